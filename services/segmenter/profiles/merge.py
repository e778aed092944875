"""A visitor's profile joined into the customer they turned out to be (`customer.identified`).

As the triggers worker hands a visitor's state over (services/triggers/journeys/merge.py):
- a customer with no profile yet takes the visitor's whole, under the customer's id;
- otherwise the customer keeps their own contact and consent (what the customer stated) and
  their segment memberships; the visitor's history is added: orders (by order id, with the
  notes waiting for one), categories and brands viewed and bought, activity per type and day,
  engagement, first seen and last activity, the later survey answers; and the seen event ids
  are pooled (a visitor event replayed later does nothing to the customer).
The visitor's segment memberships (and entry counts, rules fingerprint, publication hash) are
not carried over: they were the visitor's key's, and the customer's are decided again from
the merged profile.

Merging twice gives the same result as merging once: each hand-over leaves a mark (the
visitor's id and the last event it applied, `handover_mark`) in `Profile.merged`; a hand-over
whose mark is there returns the customer's profile itself. A visitor who browses on after being
identified and is handed over again carries new events, hence a new mark, and is added.
"""

from __future__ import annotations

import copy

from services.segmenter.profiles.counters import join_activity, join_tallies
from services.segmenter.profiles.model import (
    MAX_MERGED,
    MAX_SEEN_IDS,
    Answer,
    Engagement,
    Profile,
)
from services.segmenter.profiles.orders import OrderBook, join


def handover_mark(visitor: Profile) -> str:
    """Which hand-over this is: the visitor, as of the last event applied to it."""
    last = visitor.seen_ids[-1] if visitor.seen_ids else ""
    return f"{visitor.anonymous_id or ''}\x1f{last}"


def merge_visitor(visitor: Profile, customer: Profile | None, customer_id: str) -> Profile:
    """The customer's profile with the visitor's joined in; `customer` itself when this
    hand-over was merged already. Neither argument is changed."""
    mark = handover_mark(visitor)
    if customer is None:
        taken = copy.copy(visitor)
        taken.customer_id = customer_id
        taken.segments, taken.entries, taken.rules, taken.published = {}, {}, "", 0
        taken.merged = [*visitor.merged, mark][-MAX_MERGED:]
        return taken
    if mark in customer.merged:
        return customer
    merged = copy.copy(customer)
    merged.first_seen_at = _earliest(customer.first_seen_at, visitor.first_seen_at)
    merged.last_activity_at = _latest(customer.last_activity_at, visitor.last_activity_at)
    book = join(
        OrderBook(customer.orders, customer.archived, customer.pending),
        OrderBook(visitor.orders, visitor.archived, visitor.pending),
    )
    merged.orders, merged.archived, merged.pending = book.orders, book.archived, book.pending
    merged.categories_bought = join_tallies(customer.categories_bought, visitor.categories_bought)
    merged.categories_viewed = join_tallies(customer.categories_viewed, visitor.categories_viewed)
    merged.brands_bought = join_tallies(customer.brands_bought, visitor.brands_bought)
    merged.brands_viewed = join_tallies(customer.brands_viewed, visitor.brands_viewed)
    merged.activity = join_activity(customer.activity, visitor.activity)
    merged.engagement = _join_engagement(customer.engagement, visitor.engagement)
    merged.nps = _newer(customer.nps, visitor.nps)
    merged.csat = _newer(customer.csat, visitor.csat)
    known = set(customer.seen_ids)
    pooled = [*customer.seen_ids, *(i for i in visitor.seen_ids if i not in known)]
    merged.seen_ids = pooled[-MAX_SEEN_IDS:]
    merged.merged = [*customer.merged, mark][-MAX_MERGED:]
    return merged


def _earliest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


def _join_engagement(
    mine: dict[str, Engagement], theirs: dict[str, Engagement]
) -> dict[str, Engagement]:
    if not theirs:
        return mine
    result = dict(mine)
    for channel, other in theirs.items():
        known = result.get(channel)
        if known is None:
            result[channel] = other
            continue
        result[channel] = Engagement(
            sent=known.sent + other.sent,
            delivered=known.delivered + other.delivered,
            opened=known.opened + other.opened,
            clicked=known.clicked + other.clicked,
            replied=known.replied + other.replied,
            last_engaged_at=_latest(known.last_engaged_at, other.last_engaged_at),
        )
    return result


def _newer(a: Answer | None, b: Answer | None) -> Answer | None:
    """The later answer (equal times: the greater event id), as `apply` keeps them."""
    if a is None or b is None:
        return a or b
    return b if (b.at, b.event_id) > (a.at, a.event_id) else a
