"""Input events of the segmenter, built with keyword defaults, for its unit and integration tests.

Every builder takes `shop`, `customer` (None for a visitor), `anonymous`, `at` (a datetime, or
unix seconds) and `event_id` (default: a new `evt-N`), then the event's own fields, e.g.
`order_placed(shop="s1", customer="c1", order_id="o1", total="20.00", currency="EUR", at=T0)`.
The events are the shared models, validated as the worker would parse them.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from shared.events import catalog as shop_events
from shared.events import conversions, feedback, messages
from shared.events.envelope import EventEnvelope

SHOP = "s1"
CUSTOMER = "c1"
T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
"""A fixed moment tests count from."""
_ids = itertools.count(1)

When = datetime | float
E = TypeVar("E", bound=EventEnvelope)


def at(days: float = 0, **delta: float) -> datetime:
    """T0 moved by `days` (and/or hours=, minutes=, seconds=)."""
    return T0 + timedelta(days=days, **delta)


def seconds(when: When) -> float:
    """Unix seconds of a builder's `at` (what the profile stores)."""
    return when.timestamp() if isinstance(when, datetime) else float(when)


def _moment(when: When) -> datetime:
    return when if isinstance(when, datetime) else datetime.fromtimestamp(when, UTC)


def envelope(
    cls: type[E],
    data: dict[str, Any],
    *,
    shop: str = SHOP,
    customer: str | None = CUSTOMER,
    anonymous: str | None = None,
    at: When = T0,
    event_id: str | None = None,
) -> E:
    """Any event type: `cls` with these envelope fields and `data`."""
    return cls.model_validate(
        {
            "id": event_id or f"evt-{next(_ids)}",
            "source": "/tests",
            "time": _moment(at),
            "shopid": shop,
            "customerid": customer,
            "anonymousid": anonymous,
            "data": data,
        }
    )


# shop.events.v1


def _consent(granted: bool | None, recorded_at: When) -> dict[str, Any] | None:
    if granted is None:
        return None
    status = "granted" if granted else "denied"
    return {"status": status, "source": "signup_form", "recorded_at": _moment(recorded_at)}


def _customer_data(
    email: str | None,
    phone: str | None,
    locale: str | None,
    time_zone: str | None,
    birthday: date | None,
    email_consent: bool | None,
    sms_consent: bool | None,
    consent_at: When,
) -> dict[str, Any]:
    return {
        "email": email,
        "phone": phone,
        "locale": locale,
        "time_zone": time_zone,
        "birthday": birthday,
        "consent": {
            "email": _consent(email_consent, consent_at),
            "sms": _consent(sms_consent, consent_at),
        },
    }


def customer_created(
    *,
    email: str | None = "ann@example.com",
    phone: str | None = None,
    locale: str | None = None,
    time_zone: str | None = None,
    birthday: date | None = None,
    email_consent: bool | None = None,
    sms_consent: bool | None = None,
    consent_at: When | None = None,
    at: When = T0,
    **who: Any,
) -> shop_events.CustomerCreatedEvent:
    data = _customer_data(
        email, phone, locale, time_zone, birthday, email_consent, sms_consent, consent_at or at
    )
    return envelope(shop_events.CustomerCreatedEvent, data, at=at, **who)


def customer_updated(
    *,
    email: str | None = None,
    phone: str | None = None,
    locale: str | None = None,
    time_zone: str | None = None,
    birthday: date | None = None,
    email_consent: bool | None = None,
    sms_consent: bool | None = None,
    consent_at: When | None = None,
    at: When = T0,
    **who: Any,
) -> shop_events.CustomerUpdatedEvent:
    data = _customer_data(
        email, phone, locale, time_zone, birthday, email_consent, sms_consent, consent_at or at
    )
    return envelope(shop_events.CustomerUpdatedEvent, data, at=at, **who)


def customer_identified(
    *,
    visitor: str = "v1",
    customer: str = CUSTOMER,
    under_customer: bool = False,
    **who: Any,
) -> shop_events.CustomerIdentifiedEvent:
    """Under the visitor's key (as ingest publishes it), or the customer's (`under_customer`)."""
    data = {"anonymous_id": visitor, "customer_id": customer}
    if under_customer:
        return envelope(shop_events.CustomerIdentifiedEvent, data, customer=customer, **who)
    return envelope(
        shop_events.CustomerIdentifiedEvent, data, customer=None, anonymous=visitor, **who
    )


def subscription_changed(
    *, channel: str = "email", subscribed: bool = True, **who: Any
) -> shop_events.SubscriptionChangedEvent:
    data = {
        "channel": channel,
        "status": "subscribed" if subscribed else "unsubscribed",
        "source": "form",
    }
    return envelope(shop_events.SubscriptionChangedEvent, data, **who)


def line(
    product_id: str = "p1",
    *,
    category: str | None = "coffee",
    brand: str | None = None,
    quantity: int = 1,
    price: str = "10.00",
    currency: str = "EUR",
) -> dict[str, Any]:
    """One line item (or, without `quantity`, a product reference)."""
    return {
        "product_id": product_id,
        "title": f"Product {product_id}",
        "category": category,
        "brand": brand,
        "quantity": quantity,
        "price": {"amount": price, "currency": currency},
    }


def product_viewed(
    *,
    product_id: str = "p1",
    category: str | None = "coffee",
    brand: str | None = None,
    **who: Any,
) -> shop_events.ProductViewedEvent:
    product = line(product_id, category=category, brand=brand)
    del product["quantity"]
    return envelope(shop_events.ProductViewedEvent, {"product": product}, **who)


def product_added(
    *, product_id: str = "p1", cart_id: str = "cart-1", **who: Any
) -> shop_events.ProductAddedEvent:
    data = {"cart_id": cart_id, "item": line(product_id)}
    return envelope(shop_events.ProductAddedEvent, data, **who)


def product_removed(
    *, product_id: str = "p1", cart_id: str = "cart-1", **who: Any
) -> shop_events.ProductRemovedEvent:
    data = {"cart_id": cart_id, "item": line(product_id)}
    return envelope(shop_events.ProductRemovedEvent, data, **who)


def cart_updated(
    *, cart_id: str = "cart-1", products: Sequence[str] = ("p1",), **who: Any
) -> shop_events.CartUpdatedEvent:
    items = [line(p) for p in products]
    data = {
        "cart_id": cart_id,
        "items": items,
        "value": {"amount": f"{10 * len(items)}.00", "currency": "EUR"},
    }
    return envelope(shop_events.CartUpdatedEvent, data, **who)


def checkout_started(*, checkout_id: str = "co-1", **who: Any) -> shop_events.CheckoutStartedEvent:
    data = {
        "checkout_id": checkout_id,
        "items": [line()],
        "value": {"amount": "10.00", "currency": "EUR"},
    }
    return envelope(shop_events.CheckoutStartedEvent, data, **who)


def order_placed(
    *,
    order_id: str = "o1",
    total: str = "20.00",
    currency: str = "EUR",
    items: Sequence[dict[str, Any]] | None = None,
    **who: Any,
) -> shop_events.OrderPlacedEvent:
    """`items`: `line(...)` dicts (default: one coffee line in the order's currency)."""
    lines = list(items) if items is not None else [line(price=total, currency=currency)]
    data = {
        "order_id": order_id,
        "items": lines,
        "total": {"amount": total, "currency": currency},
    }
    return envelope(shop_events.OrderPlacedEvent, data, **who)


def order_cancelled(*, order_id: str = "o1", **who: Any) -> shop_events.OrderCancelledEvent:
    return envelope(shop_events.OrderCancelledEvent, {"order_id": order_id}, **who)


def order_refunded(
    *,
    order_id: str = "o1",
    refund_id: str = "r1",
    amount: str = "5.00",
    currency: str = "EUR",
    **who: Any,
) -> shop_events.OrderRefundedEvent:
    data = {
        "order_id": order_id,
        "refund_id": refund_id,
        "amount": {"amount": amount, "currency": currency},
    }
    return envelope(shop_events.OrderRefundedEvent, data, **who)


def shipment_created(
    *, order_id: str = "o1", shipment_id: str = "sh-1", **who: Any
) -> shop_events.ShipmentCreatedEvent:
    data = {"order_id": order_id, "shipment_id": shipment_id}
    return envelope(shop_events.ShipmentCreatedEvent, data, **who)


def shipment_delivered(
    *, order_id: str = "o1", shipment_id: str = "sh-1", **who: Any
) -> shop_events.ShipmentDeliveredEvent:
    data = {"order_id": order_id, "shipment_id": shipment_id}
    return envelope(shop_events.ShipmentDeliveredEvent, data, **who)


# messages.status.v1


def _update(message_id: str, channel: str | None, status: str) -> dict[str, Any]:
    return {
        "message_id": message_id,
        "trigger_id": f"t-{message_id}",
        "campaign_id": "welcome",
        "step_id": "welcome-1",
        "channel": channel,
        "transactional": False,
        "status": status,
    }


def message_sent(
    *, channel: str | None = "email", message_id: str = "m1", **who: Any
) -> messages.MessageSentEvent:
    data = _update(message_id, channel, "sent")
    return envelope(messages.MessageSentEvent, data, **who)


def message_queued(
    *, channel: str | None = "email", message_id: str = "m1", **who: Any
) -> messages.MessageQueuedEvent:
    data = _update(message_id, channel, "queued")
    return envelope(messages.MessageQueuedEvent, data, **who)


def message_delivered(
    *, channel: str = "sms", message_id: str = "m1", **who: Any
) -> messages.MessageDeliveredEvent:
    data = {
        "message_id": message_id,
        "trigger_id": f"t-{message_id}",
        "campaign_id": "welcome",
        "channel": channel,
        "transactional": False,
        "status": "delivered",
        "provider_id": f"SM{message_id}",
        "provider_status": "delivered",
    }
    return envelope(messages.MessageDeliveredEvent, data, **who)


# feedback.events.v1


def _engagement(channel: str | None, message_id: str, machine: bool) -> dict[str, Any]:
    return {
        "channel": channel,
        "message": {"message_id": message_id, "campaign_id": "welcome"},
        "machine": machine,
        "reason": "scanner" if machine else None,
    }


def message_opened(
    *, channel: str | None = "email", message_id: str = "m1", machine: bool = False, **who: Any
) -> feedback.MessageOpenedEvent:
    data = _engagement(channel, message_id, machine)
    return envelope(feedback.MessageOpenedEvent, data, **who)


def message_clicked(
    *, channel: str | None = "email", message_id: str = "m1", machine: bool = False, **who: Any
) -> feedback.MessageClickedEvent:
    data = _engagement(channel, message_id, machine)
    data["url"] = "https://shop.example/p1"
    return envelope(feedback.MessageClickedEvent, data, **who)


def reply_received(
    *, channel: str = "sms", text: str = "thanks!", **who: Any
) -> feedback.ReplyReceivedEvent:
    data = {"channel": channel, "text": text}
    return envelope(feedback.ReplyReceivedEvent, data, **who)


def survey_answered(
    *, survey: str = "nps", score: int = 9, order_id: str | None = None, **who: Any
) -> feedback.SurveyAnsweredEvent:
    data = {"survey": survey, "score": score, "order_id": order_id}
    return envelope(feedback.SurveyAnsweredEvent, data, **who)


def consent_withdrawn(*, channel: str = "sms", **who: Any) -> feedback.ConsentWithdrawnEvent:
    data = {"channel": channel, "source": "sms_keyword"}
    return envelope(feedback.ConsentWithdrawnEvent, data, **who)


def consent_granted(*, channel: str = "sms", **who: Any) -> feedback.ConsentGrantedEvent:
    data = {"channel": channel, "source": "sms_keyword"}
    return envelope(feedback.ConsentGrantedEvent, data, **who)


def email_bounced(*, kind: str = "hard", **who: Any) -> feedback.EmailBouncedEvent:
    data = {"email": "ann@example.com", "kind": kind}
    return envelope(feedback.EmailBouncedEvent, data, **who)


def category_preference(
    *, category: str = "news", subscribed: bool = False, **who: Any
) -> feedback.CategoryPreferenceEvent:
    data = {"category": category, "subscribed": subscribed, "source": "preference_center"}
    return envelope(feedback.CategoryPreferenceEvent, data, **who)


# conversions.v1


def conversion_attributed(
    *,
    order_id: str = "o1",
    revenue: str = "20.00",
    currency: str = "EUR",
    message_id: str = "m1",
    at: When = T0,
    **who: Any,
) -> conversions.ConversionAttributedEvent:
    data = {
        "order_id": order_id,
        "revenue": {"amount": revenue, "currency": currency},
        "message": {"message_id": message_id, "campaign_id": "welcome", "channel": "email"},
        "touch": "click",
        "touched_at": _moment(seconds(at) - 3600),
        "window": "P5D",
        "model": "last_touch",
        "order_event_id": f"order-{order_id}",
    }
    return envelope(conversions.ConversionAttributedEvent, data, at=at, **who)
