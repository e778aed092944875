"""Starting journeys: which instance an event starts, and the rules that may refuse it.

Journey ids are deterministic from the entry, so replaying the input yields the same trigger
ids: the cart or browse journey takes the id of the event that started it; order-bound
journeys the order (`order:<id>`) or the shipment milestone (`shipment:<id>:<status>`);
replenishment `<product>@<order>`; segment entries the `segment.entered` event's id;
occasions `birthday-<year>` / `first_purchase_anniversary-<year>`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from services.triggers.campaigns.catalog import CampaignSet
from services.triggers.campaigns.model import Campaign, Kind
from services.triggers.journeys.actions import Action, JourneyEntered, JourneyExited
from services.triggers.journeys.exits import exit_reason
from services.triggers.journeys.facts import DEFAULT_CART, checkout_cart_id, dump
from services.triggers.journeys.state import (
    MAX_JOURNEY_IDS,
    MAX_OPEN_PER_CAMPAIGN,
    CampaignMark,
    CustomerState,
    Journey,
    Json,
    epoch,
    keep_last,
)
from shared.events import catalog as shop
from shared.events import segments
from shared.events.shop import LineItem, ShipmentStatus
from shared.events.triggers import ShipmentSnapshot

SINGLE_JOURNEY = frozenset(
    {
        Kind.WELCOME,
        Kind.ABANDONED_CART,
        Kind.BROWSE_ABANDONMENT,
        Kind.CROSS_SELL,
        Kind.SEGMENT_ENTRY,
        Kind.OCCASION,
    }
)
"""Kinds with at most one open journey per campaign; the others run one per order/product."""
MOVING = frozenset({Kind.ABANDONED_CART, Kind.BROWSE_ABANDONMENT})
"""Kinds whose open journey follows the customer's latest activity instead of starting anew."""
MAX_REPLENISHMENTS_PER_ORDER = 5


@dataclass(frozen=True, slots=True)
class Seed:
    """A journey an event would start, before the entry rules have had their say."""

    journey_id: str
    entered_at: int
    anchor: int
    cart_id: str | None = None
    order_id: str | None = None
    product: Json | None = None
    shipment: Json | None = None
    segment_id: str | None = None
    occasion_date: str | None = None


def compact_id(text: str) -> str:
    """Ids are at most 255 characters; long composite ones are replaced by their digest."""
    if len(text) <= 200:
        return text
    return "h:" + hashlib.sha256(text.encode()).hexdigest()[:40]


def enter_from_event(
    state: CustomerState, event: Any, now_s: int, campaigns: CampaignSet, actions: list[Action]
) -> None:
    if isinstance(event, segments.SegmentEnteredEvent):
        candidates = campaigns.by_segment.get(event.data.segment_id, ())
    else:
        candidates = campaigns.by_event.get(event.type, ())
    for campaign in candidates:
        for seed in _seeds(campaign, event, state, min(epoch(event.time), now_s)):
            current = open_journey(state, campaign.id)
            if campaign.kind in MOVING and current is not None:
                _follow(current, campaign, seed)
            else:
                enter(state, campaign, seed, actions)


def _make_room(state: CustomerState, campaign_id: str, actions: list[Action]) -> None:
    """Keep a campaign's open journeys per customer under MAX_OPEN_PER_CAMPAIGN (a customer's
    state stays bounded whatever their history): the oldest one is closed, said as an exit
    with reason `superseded`."""
    mine = [journey for journey in state.journeys if journey.campaign_id == campaign_id]
    for oldest in mine[: max(len(mine) - MAX_OPEN_PER_CAMPAIGN + 1, 0)]:
        state.journeys.remove(oldest)
        actions.append(JourneyExited(campaign_id, oldest.journey_id, "superseded"))


def open_journey(state: CustomerState, campaign_id: str) -> Journey | None:
    for journey in state.journeys:
        if journey.campaign_id == campaign_id:
            return journey
    return None


def enter(
    state: CustomerState, campaign: Campaign, seed: Seed, actions: list[Action]
) -> Journey | None:
    """Open a journey unless one is open already, the instance was done before, re-entry is
    not yet allowed, or an exit rule already holds (no consent, survey already answered...)."""
    for journey in state.journeys:
        if journey.campaign_id == campaign.id and (
            journey.journey_id == seed.journey_id or campaign.kind in SINGLE_JOURNEY
        ):
            return None
    mark = state.campaigns.get(campaign.id)
    if mark is not None and seed.journey_id in mark.journey_ids:
        return None
    if not campaign.reentry.allows(mark.last_entry if mark else None, seed.entered_at):
        return None
    journey = Journey(
        campaign_id=campaign.id,
        journey_id=seed.journey_id,
        entered_seq=state.seq,
        entered_at=seed.entered_at,
        anchor=seed.anchor,
        due_at=seed.anchor + campaign.delays_s[0],
        cart_id=seed.cart_id,
        order_id=seed.order_id,
        product=seed.product,
        shipment=seed.shipment,
        segment_id=seed.segment_id,
        occasion_date=seed.occasion_date,
    )
    if exit_reason(journey, campaign, state) is not None:
        return None
    _make_room(state, campaign.id, actions)
    state.journeys.append(journey)
    if mark is None:
        mark = state.campaigns[campaign.id] = CampaignMark(last_entry=seed.entered_at)
    mark.last_entry = max(mark.last_entry, seed.entered_at)
    mark.journey_ids.append(seed.journey_id)
    keep_last(mark.journey_ids, MAX_JOURNEY_IDS)
    actions.append(JourneyEntered(campaign.id, seed.journey_id))
    return journey


def _follow(journey: Journey, campaign: Campaign, seed: Seed) -> None:
    """New activity moves the open cart/browse journey: its pending step counts from now on."""
    if seed.anchor >= journey.anchor:
        journey.anchor = seed.anchor
        journey.cart_id = seed.cart_id or journey.cart_id
        journey.product = seed.product or journey.product
    if journey.step < len(campaign.steps):
        journey.due_at = journey.anchor + campaign.delays_s[journey.step]


def _seeds(campaign: Campaign, event: Any, state: CustomerState, at: int) -> list[Seed]:
    kind = campaign.kind
    if kind is Kind.WELCOME:
        if isinstance(event, shop.SubscriptionChangedEvent) and event.data.status != "subscribed":
            return []
        return [Seed(compact_id(event.id), at, at)]
    if kind is Kind.ABANDONED_CART:
        return _cart_seed(event, state, at)
    if kind is Kind.BROWSE_ABANDONMENT:
        return [Seed(compact_id(event.id), at, at, product=dump(event.data.product))]
    if kind is Kind.ORDER_UPDATE:
        return _order_update_seed(campaign, event, at)
    if kind in (Kind.REVIEW_REQUEST, Kind.CROSS_SELL):
        order_id = event.data.order_id
        return [Seed(compact_id(f"order:{order_id}"), at, at, order_id=order_id)]
    if kind is Kind.REPLENISHMENT:
        return _replenishment_seeds(campaign, event, state, at)
    if kind is Kind.SEGMENT_ENTRY:
        return [Seed(compact_id(event.id), at, at, segment_id=event.data.segment_id)]
    return []


def _cart_seed(event: Any, state: CustomerState, at: int) -> list[Seed]:
    if isinstance(event, shop.CheckoutStartedEvent):
        cart_id = checkout_cart_id(event.data)
    elif isinstance(event, shop.CartUpdatedEvent):
        cart_id = event.data.cart_id
    else:
        cart_id = event.data.cart_id or (state.carts[-1].cart_id if state.carts else DEFAULT_CART)
    cart = state.cart(cart_id)
    if cart is None or not cart.items:
        return []
    return [Seed(compact_id(event.id), at, at, cart_id=cart_id)]


def _order_update_seed(campaign: Campaign, event: Any, at: int) -> list[Seed]:
    data = event.data
    if isinstance(event, shop.OrderPlacedEvent):
        return [Seed(compact_id(f"order:{data.order_id}"), at, at, order_id=data.order_id)]
    if isinstance(event, shop.OrderCancelledEvent):
        name = f"order:{data.order_id}:cancelled"
        return [Seed(compact_id(name), at, at, order_id=data.order_id)]
    if isinstance(event, shop.OrderRefundedEvent):
        name = f"refund:{data.refund_id}"
        return [Seed(compact_id(name), at, at, order_id=data.order_id)]
    snapshot = ShipmentSnapshot(order_id=data.order_id, shipment_id=data.shipment_id)
    if isinstance(event, shop.ShipmentCreatedEvent):
        milestone = "created"
        snapshot = snapshot.model_copy(
            update={
                "carrier": data.carrier,
                "tracking_number": data.tracking_number,
                "tracking_url": data.tracking_url,
            }
        )
    elif isinstance(event, shop.ShipmentStatusChangedEvent):
        statuses = campaign.entry.statuses
        if statuses is not None and data.status not in statuses:
            return []
        milestone = data.status.value
        estimate = data.estimated_delivery_at
        snapshot = snapshot.model_copy(
            update={
                "status": data.status,
                "tracking_url": data.tracking_url,
                "estimated_delivery_at": estimate if estimate and estimate.tzinfo else None,
            }
        )
    else:
        milestone = "delivered"
        snapshot = snapshot.model_copy(update={"status": ShipmentStatus.DELIVERED})
    name = f"shipment:{data.shipment_id}:{milestone}"
    return [
        Seed(compact_id(name), at, at, order_id=data.order_id, shipment=dump(snapshot)),
    ]


def _replenishment_seeds(
    campaign: Campaign, event: shop.OrderPlacedEvent, state: CustomerState, at: int
) -> list[Seed]:
    found: list[Seed] = []
    for item in event.data.items:
        interval = _refill_interval(campaign, state, item)
        if interval is None:
            continue
        name = compact_id(f"{item.product_id}@{event.data.order_id}")
        product = {k: v for k, v in dump(item).items() if k != "quantity"}
        found.append(Seed(name, at, at + interval, order_id=event.data.order_id, product=product))
        if len(found) == MAX_REPLENISHMENTS_PER_ORDER:
            break
    return found


def _refill_interval(campaign: Campaign, state: CustomerState, item: LineItem) -> int | None:
    """The customer's own mean repeat interval (2+ purchases on different days), else the
    product's consumption period, else its category's; None when the product is not a
    consumable this campaign knows."""
    history = state.product_purchases(item.product_id)
    if campaign.own_interval and history is not None and len(history.times) >= 2:
        mean = (history.times[-1] - history.times[0]) // (len(history.times) - 1)
        if mean >= 86_400:
            return mean
    periods = campaign.consumption_periods
    period = periods.get(f"product:{item.product_id}")
    if period is None and item.category is not None:
        period = periods.get(f"category:{item.category}")
    return int(period.total_seconds()) if period is not None else None
