"""Realistic input for the segmenter benchmark: what the services upstream of it produce, for
many customers of several shops.

Mostly shop events (`shop.events.v1`: views, carts, checkouts, orders, shipments, built by the
triggers bench's workload, with a brand on every product here, and now and then a refund or a
cancellation of one of the customer's earlier orders), then message statuses
(`messages.status.v1`: sent, delivered) and feedback (`feedback.events.v1`: opens, clicks, a
few of them a machine's, and an NPS answer now and then). Shops differ in size, and a customer's
events go to their own shop. Records are built as JSON directly, as the triggers workload
does; `check_sample` proves they parse with their topic's parser.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from shared.events import parse_feedback_event, parse_message_event, parse_shop_event
from shared.topics import FEEDBACK_EVENTS, MESSAGES_STATUS, SHOP_EVENTS
from tests.bench.triggers.workload import Customer, Workload

BRANDS = ("acme", "northwind", "globex", "initech", "umbrella", "hooli", "stark")
SHOP_SIZES = (0.4, 0.3, 0.2, 0.1)
"""The shops' shares of the customers (and so of the events)."""
WEIGHTS: dict[str, int] = {
    # shop.events.v1: about 3/4 of the records
    "customer.updated": 3,
    "product.viewed": 34,
    "product.added": 7,
    "cart.updated": 10,
    "checkout.started": 4,
    "order.placed": 7,
    "order.refunded": 2,
    "order.cancelled": 1,
    "shipment.created": 3,
    "shipment.status_changed": 3,
    "shipment.delivered": 3,
    # messages.status.v1
    "message.sent": 9,
    "message.delivered": 7,
    # feedback.events.v1
    "message.opened": 6,
    "message.clicked": 2,
    "survey.answered": 1,
}
"""After the customer's `customer.created`: what each further event is, relatively."""
TOPIC_OF: dict[str, str] = {
    "message.sent": MESSAGES_STATUS.name,
    "message.delivered": MESSAGES_STATUS.name,
    "message.opened": FEEDBACK_EVENTS.name,
    "message.clicked": FEEDBACK_EVENTS.name,
    "survey.answered": FEEDBACK_EVENTS.name,
}
"""Every other type goes to shop.events.v1."""
PARSERS = {
    SHOP_EVENTS.name: parse_shop_event,
    MESSAGES_STATUS.name: parse_message_event,
    FEEDBACK_EVENTS.name: parse_feedback_event,
}
MACHINE_SHARE = 0.2
"""Opens and clicks a machine made (Apple's privacy proxy, link scanners)."""
ORDERLESS = "product.viewed"
"""What a refund or cancellation becomes for a customer without an order yet."""


def topic_of(kind: str) -> str:
    return TOPIC_OF.get(kind, SHOP_EVENTS.name)


def _brand(product_id: str) -> str:
    return BRANDS[int(product_id.rsplit("-", 1)[1]) % len(BRANDS)]


def _branded(data: dict[str, Any]) -> dict[str, Any]:
    """Give every product of the event's data a brand (the triggers workload has none)."""
    for product in (data.get("product"), data.get("item"), *data.get("items", ())):
        if product is not None and "brand" not in product:
            product["brand"] = _brand(product["product_id"])
    return data


class ShopMix(Workload):
    """One shop's customers and records: the triggers workload's shop events, plus the types
    the segmenter takes that the triggers bench does not send."""

    def __init__(self, shop_id: str, customers: int, seed: int) -> None:
        super().__init__(shop_id, customers, seed)
        self._messages = 0

    def _data(self, customer: Customer, kind: str, now: str) -> dict[str, Any]:
        rng = self.rng
        if kind in ("order.refunded", "order.cancelled"):
            order_id = f"order-{customer.customer_id}-{rng.randint(1, customer.orders)}"
            if kind == "order.cancelled":
                return {"order_id": order_id}
            refund = f"{rng.randint(1, 20)}.00"
            return {
                "order_id": order_id,
                "refund_id": f"refund-{self._serial}",
                "amount": {"amount": refund, "currency": "EUR"},
            }
        if kind in ("message.sent", "message.delivered"):
            self._messages += 1
            message_id = f"msg-{self.shop_id}-{self._messages}"
            update: dict[str, Any] = {
                "message_id": message_id,
                "trigger_id": f"trg-{message_id}",
                "campaign_id": "cart_recovery",
                "channel": rng.choice(("email", "email", "email", "sms")),
                "transactional": False,
            }
            if kind == "message.sent":
                return update | {"step_id": "reminder-1", "status": "sent", "attempt": 1}
            return update | {
                "status": "delivered",
                "provider_id": f"SM{self._messages}",
                "provider_status": "delivered",
            }
        if kind in ("message.opened", "message.clicked"):
            machine = rng.random() < MACHINE_SHARE
            data: dict[str, Any] = {
                "channel": "email" if kind == "message.opened" else rng.choice(("email", "sms")),
                "message": {
                    "message_id": f"msg-{self.shop_id}-{rng.randint(1, max(self._messages, 1))}",
                    "campaign_id": "cart_recovery",
                },
                "machine": machine,
            }
            if machine:
                data["reason"] = "apple_privacy_proxy" if kind == "message.opened" else "scanner"
            if kind == "message.clicked":
                data["url"] = f"https://bench.example/products/{rng.randrange(5000)}"
            return data
        if kind == "survey.answered":
            return {"survey": "nps", "score": rng.randint(0, 10)}
        return _branded(super()._data(customer, kind, now))


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    key: bytes
    value: bytes


class SegmenterWorkload:
    """`events` records for `customers` distinct customers over len(SHOP_SIZES) shops named
    `<prefix>-<n>`."""

    def __init__(self, prefix: str, customers: int, seed: int = 7) -> None:
        self.rng = random.Random(seed)
        sizes = [max(1, round(customers * share)) for share in SHOP_SIZES]
        self.shops = [
            ShopMix(f"{prefix}-{n}", size, seed + n) for n, size in enumerate(sizes, start=1)
        ]
        self.customers = [(shop, person) for shop in self.shops for person in shop.customers]
        self.rng.shuffle(self.customers)  # sign-ups from all shops, interleaved
        self._types = list(WEIGHTS)
        self._weights = list(WEIGHTS.values())

    def records(self, events: int) -> Iterator[Record]:
        """The first len(customers) records create the customers; the rest are the mix."""
        for n in range(events):
            if n < len(self.customers):
                shop, person = self.customers[n]
                kind = "customer.created"
            else:
                shop, person = self.rng.choice(self.customers)
                kind = self.rng.choices(self._types, self._weights)[0]
                if kind in ("order.refunded", "order.cancelled") and person.orders == 0:
                    kind = ORDERLESS
            when = datetime.now(UTC)
            key, value = shop.record_for(person, kind, when)
            yield Record(topic_of(kind), key, value)


def check_sample(records: list[Record]) -> None:
    """Every record of the sample parses with its topic's parser (else the bench measures the
    dead-letter path)."""
    for record in records:
        PARSERS[record.topic](record.value)
