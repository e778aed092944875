"""Events, a simulated customer and assertions helpers for the decision-function tests."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.triggers.campaigns import CampaignSet, default_campaigns
from services.triggers.journeys import (
    Action,
    CustomerState,
    ExpireStep,
    FireStep,
    JourneyEntered,
    JourneyExited,
    decide,
    fire_due,
)
from services.triggers.journeys.facts import HANDLERS
from shared.events import catalog as shop
from shared.events import feedback, segments
from shared.events.envelope import EventEnvelope

SHOP = "acme"
CUSTOMER = "c1"
T0 = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
_ids = itertools.count(1)


def at(**delta: float) -> datetime:
    return T0 + timedelta(**delta)


def _envelope(cls: type[EventEnvelope], data: Any, when: datetime, **who: Any) -> Any:
    customer = who.pop("customer", CUSTOMER)
    anonymous = who.pop("anonymous", None)
    event_id = who.pop("event_id", None) or f"evt-{next(_ids)}"
    return cls.model_validate(
        {
            "id": event_id,
            "source": "/tests",
            "time": when,
            "shopid": SHOP,
            "customerid": customer,
            "anonymousid": anonymous,
            "data": data,
        }
    )


def _consent(granted: bool | None, when: datetime) -> dict[str, Any]:
    if granted is None:
        return {}
    status = "granted" if granted else "denied"
    given = {"status": status, "source": "signup_form", "recorded_at": when}
    return {"email": given, "sms": given}


def customer_created(
    when: datetime = T0,
    *,
    consent: bool | None = True,
    birthday: date | None = None,
    time_zone: str | None = None,
    **who: Any,
) -> Any:
    data = {"consent": _consent(consent, when), "birthday": birthday, "time_zone": time_zone}
    return _envelope(shop.CustomerCreatedEvent, data, when, **who)


def customer_updated(when: datetime, **fields: Any) -> Any:
    who = {k: fields.pop(k) for k in ("customer", "anonymous", "event_id") if k in fields}
    return _envelope(shop.CustomerUpdatedEvent, fields, when, **who)


def subscription(when: datetime, channel: str, subscribed: bool, **who: Any) -> Any:
    status = "subscribed" if subscribed else "unsubscribed"
    data = {"channel": channel, "status": status, "source": "form"}
    return _envelope(shop.SubscriptionChangedEvent, data, when, **who)


def consent_withdrawn(when: datetime, channel: str) -> Any:
    data = {"channel": channel, "source": "sms_keyword"}
    return _envelope(feedback.ConsentWithdrawnEvent, data, when)


def category_preference(when: datetime, category: str, subscribed: bool) -> Any:
    data = {"category": category, "subscribed": subscribed, "source": "preference_center"}
    return _envelope(feedback.CategoryPreferenceEvent, data, when)


def complaint(when: datetime, **who: Any) -> Any:
    return _envelope(feedback.ComplaintReceivedEvent, {"email": "a@example.com"}, when, **who)


def hard_bounce(when: datetime, **who: Any) -> Any:
    data = {"email": "a@example.com", "kind": "hard"}
    return _envelope(feedback.EmailBouncedEvent, data, when, **who)


def address_suppressed(
    when: datetime, scope: str = "all", reason: str = "soft_bounces", **who: Any
) -> Any:
    data = {"email": "a@example.com", "scope": scope, "reason": reason, "detail": "3 in 7d"}
    return _envelope(feedback.AddressSuppressedEvent, data, when, **who)


def address_unsuppressed(when: datetime, **who: Any) -> Any:
    data = {"email": "a@example.com", "actor": "ops", "reason": "mailbox fixed"}
    return _envelope(feedback.AddressUnsuppressedEvent, data, when, **who)


def item(
    product_id: str = "p1", category: str | None = "coffee", quantity: int = 1
) -> dict[str, Any]:
    return {
        "product_id": product_id,
        "title": f"Product {product_id}",
        "category": category,
        "quantity": quantity,
        "price": {"amount": "10.00", "currency": "EUR"},
        "image_url": f"https://shop.example/{product_id}.jpg",
    }


def product(product_id: str = "p1", category: str | None = "coffee") -> dict[str, Any]:
    ref = item(product_id, category)
    del ref["quantity"]
    return ref


def viewed(when: datetime, product_id: str = "p1", **who: Any) -> Any:
    return _envelope(shop.ProductViewedEvent, {"product": product(product_id)}, when, **who)


def added(when: datetime, product_id: str = "p1", cart_id: str = "cart-1", **who: Any) -> Any:
    data = {"cart_id": cart_id, "item": item(product_id)}
    return _envelope(shop.ProductAddedEvent, data, when, **who)


def removed(when: datetime, product_id: str = "p1", cart_id: str = "cart-1") -> Any:
    data = {"cart_id": cart_id, "item": item(product_id)}
    return _envelope(shop.ProductRemovedEvent, data, when)


def cart_updated(
    when: datetime, products: Iterable[str] = ("p1",), cart_id: str = "cart-1", **who: Any
) -> Any:
    items = [item(p) for p in products]
    data = {
        "cart_id": cart_id,
        "items": items,
        "value": {"amount": f"{10 * len(items)}.00", "currency": "EUR"},
        "recovery_url": f"https://shop.example/cart/{cart_id}",
    }
    return _envelope(shop.CartUpdatedEvent, data, when, **who)


def checkout_started(when: datetime, checkout_id: str = "co-1", cart_id: str | None = None) -> Any:
    data = {
        "checkout_id": checkout_id,
        "cart_id": cart_id,
        "items": [item("p1")],
        "value": {"amount": "10.00", "currency": "EUR"},
        "recovery_url": "https://shop.example/checkout/co-1",
    }
    return _envelope(shop.CheckoutStartedEvent, data, when)


def order_placed(
    when: datetime,
    order_id: str = "o-1",
    products: Iterable[tuple[str, str | None]] = (("p1", "coffee"),),
    **who: Any,
) -> Any:
    data = {
        "order_id": order_id,
        "items": [item(p, c) for p, c in products],
        "total": {"amount": "10.00", "currency": "EUR"},
    }
    return _envelope(shop.OrderPlacedEvent, data, when, **who)


def order_cancelled(when: datetime, order_id: str = "o-1") -> Any:
    return _envelope(shop.OrderCancelledEvent, {"order_id": order_id}, when)


def shipment_created(when: datetime, order_id: str = "o-1", shipment_id: str = "s-1") -> Any:
    data = {"order_id": order_id, "shipment_id": shipment_id, "carrier": "PostNL"}
    return _envelope(shop.ShipmentCreatedEvent, data, when)


def shipment_status(
    when: datetime, status: str, order_id: str = "o-1", shipment_id: str = "s-1"
) -> Any:
    data = {"order_id": order_id, "shipment_id": shipment_id, "status": status}
    return _envelope(shop.ShipmentStatusChangedEvent, data, when)


def delivered(when: datetime, order_id: str = "o-1", shipment_id: str = "s-1") -> Any:
    data = {"order_id": order_id, "shipment_id": shipment_id}
    return _envelope(shop.ShipmentDeliveredEvent, data, when)


def survey_answered(when: datetime, order_id: str | None = "o-1") -> Any:
    data = {"survey": "csat", "score": 5, "order_id": order_id}
    return _envelope(feedback.SurveyAnsweredEvent, data, when)


def opened(when: datetime) -> Any:
    data = {"channel": "email", "message": {"message_id": "m-1"}}
    return _envelope(feedback.MessageOpenedEvent, data, when)


def segment_entered(when: datetime, segment_id: str, **who: Any) -> Any:
    return _envelope(segments.SegmentEnteredEvent, {"segment_id": segment_id}, when, **who)


def segment_exited(when: datetime, segment_id: str) -> Any:
    return _envelope(segments.SegmentExitedEvent, {"segment_id": segment_id}, when)


def with_facts_only(state: CustomerState, event: Any) -> CustomerState:
    """The state with `event`'s facts recorded but no decision taken on them: what fire_due
    finds when an exit event was recorded without its exit having been applied."""
    result = state.copy()
    result.seq += 1
    HANDLERS[event.type](result, event)
    return result


@dataclass
class Customer:
    """One customer driven through decide/fire_due the way the runtime would."""

    campaigns: CampaignSet = field(default_factory=default_campaigns)
    state: CustomerState | None = None
    log: list[tuple[datetime, Action]] = field(default_factory=list)

    def send(self, event: Any, now: datetime | None = None) -> tuple[Action, ...]:
        decision = decide(self.state, event, now or event.time, self.campaigns)
        self.state = decision.state
        self.log.extend((now or event.time, action) for action in decision.actions)
        return decision.actions

    def tick(self, now: datetime) -> tuple[Action, ...]:
        assert self.state is not None
        decision = fire_due(self.state, now, self.campaigns)
        self.state = decision.state
        self.log.extend((now, action) for action in decision.actions)
        return decision.actions

    def run_until(self, end: datetime) -> list[Action]:
        """Fire every timer due up to `end`, each exactly at its due time."""
        actions: list[Action] = []
        for _ in range(1000):
            due = self.state.next_due_at() if self.state is not None else None
            if due is None or due > end:
                return actions
            actions.extend(self.tick(due))
        raise AssertionError("timers never settle")

    def fired(self, campaign_id: str | None = None) -> list[tuple[datetime, FireStep]]:
        return [
            (when, a)
            for when, a in self.log
            if isinstance(a, FireStep) and campaign_id in (None, a.data.campaign_id)
        ]

    def fired_steps(self, campaign_id: str) -> list[str]:
        return [a.data.step_id for _, a in self.fired(campaign_id)]

    def fire_times(self, campaign_id: str) -> list[datetime]:
        return [when for when, _ in self.fired(campaign_id)]


def fires(actions: Iterable[Action], campaign_id: str | None = None) -> list[FireStep]:
    return [
        a for a in actions if isinstance(a, FireStep) and campaign_id in (None, a.data.campaign_id)
    ]


def expires(actions: Iterable[Action], campaign_id: str | None = None) -> list[ExpireStep]:
    return [
        a
        for a in actions
        if isinstance(a, ExpireStep) and campaign_id in (None, a.data.campaign_id)
    ]


def exits(actions: Iterable[Action], campaign_id: str) -> list[str]:
    return [
        a.reason for a in actions if isinstance(a, JourneyExited) and a.campaign_id == campaign_id
    ]


def entries(actions: Iterable[Action], campaign_id: str) -> list[str]:
    return [
        a.journey_id
        for a in actions
        if isinstance(a, JourneyEntered) and a.campaign_id == campaign_id
    ]


def open_journeys(state: CustomerState | None, campaign_id: str) -> list[str]:
    assert state is not None
    return [j.journey_id for j in state.journeys if j.campaign_id == campaign_id]


def consenting_customer(campaigns: CampaignSet | None = None, **created: Any) -> Customer:
    """A customer who signed up a day before T0 with email and SMS consent."""
    customer = Customer(campaigns or default_campaigns())
    customer.send(customer_created(T0 - timedelta(days=30), **created))
    customer.run_until(T0 - timedelta(days=1))  # the welcome series is over by T0
    customer.log.clear()
    return customer
