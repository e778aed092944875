"""The two decision functions the runtime calls: on each event, and when a timer is due.

No I/O, no clock (the caller passes `now`), no randomness. For speed the state passed in is
*consumed*: it is updated in place and returned in the decision (copying it would cost as much
as deserialising it again). The runtime loads a fresh state from bytes for every call, so this
is invisible there; a caller that needs the old value keeps its bytes or calls `state.copy()`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from services.triggers.campaigns.catalog import CampaignSet
from services.triggers.journeys.actions import Action, Decision
from services.triggers.journeys.entries import enter_from_event
from services.triggers.journeys.facts import HANDLERS, JOURNEY_ONLY
from services.triggers.journeys.firing import settle
from services.triggers.journeys.occasions import INPUTS as OCCASION_INPUTS
from services.triggers.journeys.occasions import reconcile
from services.triggers.journeys.state import (
    MAX_SEEN_EVENTS,
    CustomerState,
    epoch,
    event_key,
    keep_last,
)
from shared.events import FeedbackEvent, SegmentEvent, ShopEvent


class CampaignSource(Protocol):
    """A `CampaignCatalog` (every shop) or a single `CampaignSet`."""

    def for_shop(self, shop_id: str) -> CampaignSet: ...


InputEvent = ShopEvent | FeedbackEvent | SegmentEvent


def decide(
    state: CustomerState | None, event: InputEvent, now: datetime, campaigns: CampaignSource
) -> Decision:
    """Apply one event: update the facts, close journeys whose exit rule now holds, enter new
    ones, and fire what is due already (steps at delay 0, or found due late on a replay).

    An event id seen recently, or an event that changes nothing here (opens, clicks, replies),
    returns the state as it was and no action.
    """
    key = event_key(event.id)
    if state is not None and key in state.seen:
        return Decision(state)
    relevant = event.type in HANDLERS or event.type in JOURNEY_ONLY
    if not relevant:
        return Decision(state if state is not None else _new_state(event))
    shop = campaigns.for_shop(event.shopid)
    result = state if state is not None else _new_state(event)
    result.seq += 1
    result.seen.append(key)
    keep_last(result.seen, MAX_SEEN_EVENTS)
    handler = HANDLERS.get(event.type)
    if handler is not None:
        handler(result, event)
    now_s = epoch(now)
    actions: list[Action] = []
    settle(result, now_s, shop, actions, fire=False)
    enter_from_event(result, event, now_s, shop, actions)
    reconcile(result, now_s, shop, actions, recompute=event.type in OCCASION_INPUTS)
    settle(result, now_s, shop, actions, fire=True)
    reconcile(result, now_s, shop, actions, recompute=False)
    return Decision(result, tuple(actions))


def fire_due(state: CustomerState, now: datetime, campaigns: CampaignSource) -> Decision:
    """Re-check every exit rule, then fire each step due by `now` (or expire it if it is later
    than the campaign's lateness bound). Calling it again at the same `now` does nothing."""
    shop = campaigns.for_shop(state.shop_id)
    result = state
    now_s = epoch(now)
    actions: list[Action] = []
    settle(result, now_s, shop, actions, fire=True)
    reconcile(result, now_s, shop, actions, recompute=False)  # next year's occasion
    return Decision(result, tuple(actions))


def _new_state(event: InputEvent) -> CustomerState:
    return CustomerState(
        shop_id=event.shopid, customer_id=event.customerid, anonymous_id=event.anonymousid
    )
