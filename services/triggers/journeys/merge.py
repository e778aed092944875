"""Handing a visitor's state to the customer they turned out to be (`customer.identified`).

- A customer with no state yet takes the visitor's state whole (facts, journeys, marks).
- Otherwise the customer keeps their own contact, consent, orders and segments; the visitor's
  carts and product views are added (newest kept within the caps), and each open visitor
  journey moves over unless the customer already has one open for that campaign, or entered
  that campaign themselves since the visitor did (their own, newer journey decided it: e.g. a
  browse reminder the customer's add-to-cart already cancelled must not come back). A moved
  journey keeps its due time and counts as entered now in the customer's own event order, so
  that only orders *after* the hand-over exit it — or after the journey's anchor (the visitor's
  last cart activity), when the customer's order got there before the hand-over did. Consent
  is then checked when it fires.
- Seen event ids are pooled, so a replayed visitor event does nothing to the customer.
Merging twice gives the same result as merging once.
"""

from __future__ import annotations

from services.triggers.journeys.state import (
    MAX_CARTS,
    MAX_JOURNEY_IDS,
    MAX_SEEN_EVENTS,
    MAX_VIEWS,
    CampaignMark,
    CustomerState,
    keep_last,
)


def merge_identified(
    anonymous: CustomerState, customer: CustomerState | None, customer_id: str | None = None
) -> CustomerState:
    """`customer_id` is required when `customer` is None (the visitor's state does not know
    who they are)."""
    if customer is None:
        if customer_id is None:
            raise ValueError("customer_id is needed to hand a visitor to a new customer")
        merged = anonymous.copy()
        merged.customer_id = customer_id
        return merged
    merged = customer.copy()
    visitor = anonymous.copy()
    known_carts = {cart.cart_id for cart in merged.carts}
    merged.carts.extend(cart for cart in visitor.carts if cart.cart_id not in known_carts)
    merged.carts.sort(key=lambda cart: cart.at)
    keep_last(merged.carts, MAX_CARTS)
    views = {view.product_id: view for view in merged.views}
    for view in visitor.views:
        known = views.get(view.product_id)
        if known is None or view.at > known.at:
            views[view.product_id] = view
    merged.views = sorted(views.values(), key=lambda view: view.at)
    keep_last(merged.views, MAX_VIEWS)
    open_campaigns = {journey.campaign_id for journey in merged.journeys}
    for journey in visitor.journeys:
        if journey.campaign_id in open_campaigns:
            continue
        own = merged.campaigns.get(journey.campaign_id)
        if own is not None and own.last_entry >= journey.entered_at:
            continue
        ordered_since = (
            merged.orders.last_at is not None and merged.orders.last_at >= journey.anchor
        )
        # An order placed after the visitor's last cart activity, which reached the customer
        # before the hand-over did (it travels through a topic), counts as after the entry:
        # the moved journey exits on it when next checked, instead of reminding a buyer.
        journey.entered_seq = merged.orders.last_seq - 1 if ordered_since else merged.seq
        merged.journeys.append(journey)
        mark = merged.campaigns.setdefault(
            journey.campaign_id, CampaignMark(last_entry=journey.entered_at)
        )
        mark.last_entry = max(mark.last_entry, journey.entered_at)
        if journey.journey_id not in mark.journey_ids:
            mark.journey_ids.append(journey.journey_id)
            keep_last(mark.journey_ids, MAX_JOURNEY_IDS)
    merged.seen.extend(event_id for event_id in visitor.seen if event_id not in merged.seen)
    keep_last(merged.seen, MAX_SEEN_EVENTS)
    return merged
