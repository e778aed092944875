"""Exit rules as tests on the state: run when an event arrives AND again before a step fires.

Because they read facts rather than react to events, the second run catches what the first
could not see (an order recorded while the timer was already on its way), which is what keeps
a reminder from going out after the order is in the log.
"""

from __future__ import annotations

from collections.abc import Callable

from services.triggers.campaigns.model import Campaign, ExitRule
from services.triggers.journeys.state import CustomerState, Journey, category_key

_OPTED_OUT = ExitRule.OPTED_OUT.value
SUPPRESSED = "suppressed"
"""Exit reason of a marketing journey whose every consented channel has its address
suppressed (a complaint, a hard bounce, repeated soft bounces) until an operator clears it."""


def marketing_block(state: CustomerState, campaign: Campaign) -> str | None:
    """Why a marketing campaign can reach the customer on none of its channels, or None.

    A channel is usable when the customer consents to it (what they stated) and its address
    is not suppressed: `opted_out` when no channel the campaign uses has consent, else
    `suppressed`. A campaign whose category the customer dropped is `opted_out` whatever the
    channels.
    """
    contact = state.contact
    if campaign.category is not None:
        kept = contact.consent.get(category_key(campaign.category))
        if kept is not None and not kept.granted:
            return _OPTED_OUT
    consented = False
    for channel in campaign.usable_channels:
        known = contact.consent.get(channel)
        if known is None or not known.granted:
            continue
        suppression = contact.suppressions.get(channel)
        if suppression is None or not suppression.blocks_marketing():
            return None
        consented = True
    return SUPPRESSED if consented else _OPTED_OUT


def _order_placed(journey: Journey, state: CustomerState) -> bool:
    return state.orders.last_seq > journey.entered_seq


def _cart_emptied(journey: Journey, state: CustomerState) -> bool:
    cart = state.cart(journey.cart_id)
    return cart is None or not cart.items


def _added_to_cart(journey: Journey, state: CustomerState) -> bool:
    return state.last_cart_add_seq > journey.entered_seq


def _survey_answered(journey: Journey, state: CustomerState) -> bool:
    if journey.order_id is not None:
        return journey.order_id in state.surveys
    return state.last_survey_seq > journey.entered_seq


def _order_cancelled(journey: Journey, state: CustomerState) -> bool:
    return journey.order_id is not None and journey.order_id in state.orders.cancelled


def _segment_exited(journey: Journey, state: CustomerState) -> bool:
    return journey.segment_id is not None and journey.segment_id not in state.segments


def _repurchased(journey: Journey, state: CustomerState) -> bool:
    if journey.product is None:
        return False
    entry = state.product_purchases(journey.product["product_id"])
    return entry is not None and entry.seq > journey.entered_seq


_TESTS: dict[ExitRule, Callable[[Journey, CustomerState], bool]] = {
    ExitRule.ORDER_PLACED: _order_placed,
    ExitRule.CART_EMPTIED: _cart_emptied,
    ExitRule.ADDED_TO_CART: _added_to_cart,
    ExitRule.SURVEY_ANSWERED: _survey_answered,
    ExitRule.ORDER_CANCELLED: _order_cancelled,
    ExitRule.SEGMENT_EXITED: _segment_exited,
    ExitRule.REPURCHASED: _repurchased,
}


def exit_reason(journey: Journey, campaign: Campaign, state: CustomerState) -> str | None:
    """The rule that ends this journey now, if any.

    Consent and suppressions are tested for every marketing campaign whether or not
    `opted_out` is listed (`opted_out` or `suppressed`, see `marketing_block`), and never for
    transactional ones (dispatch decides those, and may fall back to another channel); a
    visitor's consent is unknown until identified, so parked journeys wait for it. When several
    rules hold, the first in ExitRule's order is reported (an order that also empties the cart
    is `order_placed`).
    """
    if not campaign.transactional and state.customer_id is not None:
        blocked = marketing_block(state, campaign)
        if blocked is not None:
            return blocked
    for rule in campaign.exit_tests:
        if _TESTS[rule](journey, state):
            return rule.value
    return None
