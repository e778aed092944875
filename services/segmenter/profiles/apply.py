"""One event into a customer's profile: `apply(profile, event, now)` returns the profile after it.

Pure: no I/O, no clock. Profiles are values: the profile passed in is never changed. The result
is a shallow copy in which every changed field holds a new container; unchanged containers
are shared with the argument, so neither may be changed in place afterwards (replace a field
instead, as here). When an event changes nothing, the very profile passed in is returned
(`result is profile`), so the caller can skip the write:
- an event id among the profile's last MAX_SEEN_IDS (a replay, a duplicate delivery);
- an event the profile does not take (`applies` is False): `conversion.attributed` (the order
  counted when `order.placed` came; which message earned it is feedback's and the analysts'
  business, and remembering its id would only cost a write), message statuses other than sent
  and delivered, bounces, complaints, suppressions and failed SMS (reports about an address,
  not the customer's doing), and opens or clicks a machine made.
With no profile yet and an event it does not take, a new empty profile is returned (the
caller that wants no empty profile checks `applies` first).

Every event taken is counted in `activity` (per type and UTC day of the event's time), except
a repeat of a fact already known under another event id (an order placed again), and only the
types in CUSTOMER_FACING move `last_activity_at` (the latest such time, whatever the order of
arrival). Consent keeps the newest statement by time; survey answers the latest by time (equal
times: the greater event id). Contact fields (email and phone presence, locale, time zone,
birthday) merge the non-null fields of each customer event as they arrive, as the triggers
worker does. Order arithmetic (late orders, cancellations and refunds before their order,
folding into the archive) is in `orders`.

`now` and `shop_currency` are taken for the worker's one call shape; the arithmetic needs
neither (times are the events' own, and money is kept per currency: `facts` picks the shop's).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, Final

import msgspec

from services.segmenter.profiles.counters import count_activity, tally
from services.segmenter.profiles.model import (
    MAX_SEEN_IDS,
    Answer,
    Engagement,
    Order,
    Profile,
    Refund,
)
from services.segmenter.profiles.orders import OrderBook, add_refund, cancel, place
from shared.events import EventEnvelope, feedback, messages
from shared.events import catalog as shop
from shared.events.shop import ConsentStatus, CustomerData, SubscriptionStatus

InputEvent = EventEnvelope
"""A parsed record of shop.events.v1, messages.status.v1, feedback.events.v1 or conversions.v1
(any event: a type not in HANDLERS is ignored)."""

CUSTOMER_FACING: Final = frozenset(
    {
        "customer.identified",
        "product.viewed",
        "product.added",
        "product.removed",
        "cart.updated",
        "checkout.started",
        "order.placed",
        "message.opened",
        "message.clicked",
        "reply.received",
        "survey.answered",
    }
)
"""What the customer did themselves: these, and only these, move `last_activity_at`."""


def apply(
    profile: Profile | None,
    event: InputEvent,
    now: float,
    *,
    shop_currency: str | None = None,
) -> Profile:
    """The profile after `event`; `profile` itself when the event changes nothing."""
    if profile is not None and event.id in profile.seen_ids:
        return profile
    handler = _handler(event)
    if handler is None:
        return profile if profile is not None else new_profile(event)
    work = copy.copy(profile) if profile is not None else new_profile(event)
    at = event.time.timestamp()
    if handler(work, event):
        work.activity = count_activity(work.activity, event.type, at)
        if event.type in CUSTOMER_FACING and (
            work.last_activity_at is None or at > work.last_activity_at
        ):
            work.last_activity_at = at
    if work.first_seen_at is None or at < work.first_seen_at:
        work.first_seen_at = at
    work.seen_ids = [*work.seen_ids, event.id][-MAX_SEEN_IDS:]
    return work


def applies(event: InputEvent) -> bool:
    """Whether the profile takes this event at all (see the module's docstring)."""
    return _handler(event) is not None


def new_profile(event: InputEvent) -> Profile:
    return Profile(
        shop_id=event.shopid, customer_id=event.customerid, anonymous_id=event.anonymousid
    )


def _handler(event: InputEvent) -> Handler | None:
    if isinstance(event, feedback.MessageOpenedEvent | feedback.MessageClickedEvent) and (
        event.data.machine
    ):
        return None
    return HANDLERS.get(event.type)


# Handlers update `work` (the copy) by replacing its fields, never changing a container it
# may share with the caller's profile. They return False when the event repeats a fact the
# profile knows already (then it is counted nowhere).

Handler = Callable[[Profile, Any], bool]


def _time(event: InputEvent) -> float:
    return event.time.timestamp()


def _activity_only(work: Profile, event: InputEvent) -> bool:
    return True


def _set_consent(work: Profile, channel: str, granted: bool, at: float) -> None:
    """A statement older than the one known is history: it changes nothing (a stale sync from
    the shop must not undo an SMS STOP)."""
    known_at = work.consent_at.get(channel)
    if known_at is not None and at < known_at:
        return
    work.consent = {**work.consent, channel: granted}
    work.consent_at = {**work.consent_at, channel: at}


def _contact(work: Profile, data: CustomerData) -> None:
    if data.email is not None:
        work.email = True
    if data.phone is not None:
        work.phone = True
    if data.locale is not None:
        work.locale = data.locale
    if data.time_zone is not None:
        work.time_zone = data.time_zone
    if data.birthday is not None:
        work.birthday = data.birthday.isoformat()
    for channel, given in (("email", data.consent.email), ("sms", data.consent.sms)):
        if given is not None:
            granted = given.status is ConsentStatus.GRANTED
            _set_consent(work, channel, granted, given.recorded_at.timestamp())


def _customer(work: Profile, event: shop.CustomerCreatedEvent | shop.CustomerUpdatedEvent) -> bool:
    _contact(work, event.data)
    return True


def _subscription(work: Profile, event: shop.SubscriptionChangedEvent) -> bool:
    data = event.data
    if data.email is not None:
        work.email = True
    if data.phone is not None:
        work.phone = True
    granted = data.status is SubscriptionStatus.SUBSCRIBED
    _set_consent(work, data.channel.value, granted, _time(event))
    return True


def _names(values: list[str | None]) -> list[str]:
    """Distinct, in a fixed order (a tally's eviction must not depend on set order)."""
    return sorted({value for value in values if value})


def _viewed(work: Profile, event: shop.ProductViewedEvent) -> bool:
    product, at = event.data.product, _time(event)
    if product.category:
        work.categories_viewed = tally(work.categories_viewed, [product.category], at)
    if product.brand:
        work.brands_viewed = tally(work.brands_viewed, [product.brand], at)
    return True


def _book(work: Profile) -> OrderBook:
    return OrderBook(work.orders, work.archived, work.pending)


def _store(work: Profile, book: OrderBook) -> None:
    work.orders, work.archived, work.pending = book.orders, book.archived, book.pending


def _order_placed(work: Profile, event: shop.OrderPlacedEvent) -> bool:
    data, at = event.data, _time(event)
    order = Order(
        order_id=data.order_id, at=at, total=data.total.amount, currency=data.total.currency
    )
    book = place(_book(work), order)
    if book is None:
        return False  # the same order said again (on creation and on payment)
    _store(work, book)
    categories = _names([item.category for item in data.items])
    if categories:
        work.categories_bought = tally(work.categories_bought, categories, at)
    brands = _names([item.brand for item in data.items])
    if brands:
        work.brands_bought = tally(work.brands_bought, brands, at)
    return True


def _order_cancelled(work: Profile, event: shop.OrderCancelledEvent) -> bool:
    _store(work, cancel(_book(work), event.data.order_id, _time(event)))
    return True


def _order_refunded(work: Profile, event: shop.OrderRefundedEvent) -> bool:
    data = event.data
    amount = data.amount
    given = Refund(refund_id=data.refund_id, amount=amount.amount, currency=amount.currency)
    _store(work, add_refund(_book(work), data.order_id, given, _time(event)))
    return True


def _engage(work: Profile, channel: str | None, at: float | None, **counts: int) -> None:
    """Add `counts` to the channel's counters; `at`: a person engaged then."""
    if channel is None:
        return
    known = work.engagement.get(channel, Engagement())
    changes: dict[str, Any] = {name: getattr(known, name) + n for name, n in counts.items()}
    if at is not None and (known.last_engaged_at is None or at > known.last_engaged_at):
        changes["last_engaged_at"] = at
    work.engagement = {**work.engagement, channel: msgspec.structs.replace(known, **changes)}


def _sent(work: Profile, event: messages.MessageSentEvent) -> bool:
    channel = event.data.channel
    _engage(work, channel.value if channel is not None else None, None, sent=1)
    return True


def _delivered(work: Profile, event: messages.MessageDeliveredEvent) -> bool:
    _engage(work, event.data.channel.value, None, delivered=1)
    return True


def _opened(work: Profile, event: feedback.MessageOpenedEvent) -> bool:
    channel = event.data.channel
    _engage(work, channel.value if channel is not None else None, _time(event), opened=1)
    return True


def _clicked(work: Profile, event: feedback.MessageClickedEvent) -> bool:
    channel = event.data.channel
    _engage(work, channel.value if channel is not None else None, _time(event), clicked=1)
    return True


def _replied(work: Profile, event: feedback.ReplyReceivedEvent) -> bool:
    _engage(work, event.data.channel.value, _time(event), replied=1)
    return True


def _later(answer: Answer, known: Answer | None) -> bool:
    return known is None or (answer.at, answer.event_id) > (known.at, known.event_id)


def _survey(work: Profile, event: feedback.SurveyAnsweredEvent) -> bool:
    data = event.data
    answer = Answer(score=data.score, at=_time(event), event_id=event.id)
    if data.survey is feedback.SurveyKind.NPS:
        if _later(answer, work.nps):
            work.nps = answer
    elif _later(answer, work.csat):
        work.csat = answer
    return True


def _withdrawn(work: Profile, event: feedback.ConsentWithdrawnEvent) -> bool:
    _set_consent(work, event.data.channel.value, False, _time(event))
    return True


def _granted(work: Profile, event: feedback.ConsentGrantedEvent) -> bool:
    _set_consent(work, event.data.channel.value, True, _time(event))
    return True


HANDLERS: Final[dict[str, Handler]] = {
    # shop.events.v1
    "customer.created": _customer,
    "customer.updated": _customer,
    "customer.identified": _activity_only,  # the hand-over itself is merge.py's
    "subscription.changed": _subscription,
    "product.viewed": _viewed,
    "product.added": _activity_only,
    "product.removed": _activity_only,
    "cart.updated": _activity_only,
    "checkout.started": _activity_only,
    "order.placed": _order_placed,
    "order.cancelled": _order_cancelled,
    "order.refunded": _order_refunded,
    "shipment.created": _activity_only,
    "shipment.status_changed": _activity_only,
    "shipment.delivered": _activity_only,
    # messages.status.v1
    "message.sent": _sent,
    "message.delivered": _delivered,
    # feedback.events.v1
    "message.opened": _opened,
    "message.clicked": _clicked,
    "reply.received": _replied,
    "survey.answered": _survey,
    "consent.withdrawn": _withdrawn,
    "consent.granted": _granted,
    "category.preference_changed": _activity_only,
}
"""Every event type the profile takes; any other is ignored (see the module's docstring)."""
