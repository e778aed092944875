"""Producing typed shop events straight onto `shop.events.v1`, as ingest would.

Tests of the stream processors use this instead of the HTTP API so that they can choose each
event's time (a scaled clock's virtual time) and produce raw, invalid records too.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from kafka import KafkaProducer

from shared.events import EventEnvelope, dump_shop_event, shop
from shared.events import catalog as ev
from shared.events.types import Money
from shared.topics import SHOP_EVENTS
from tests.support.kafka_records import Record, TopicWindow

_ids = itertools.count()


class ShopStream:
    def __init__(self, bootstrap: str, shop_id: str) -> None:
        self.shop_id = shop_id
        self._producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)

    def close(self) -> None:
        self._producer.close()

    def send(self, event: EventEnvelope) -> None:
        self._producer.send(SHOP_EVENTS.name, key=event.key.encode(), value=dump_shop_event(event))
        self._producer.flush()

    def send_raw(self, key: bytes, value: bytes) -> None:
        self._producer.send(SHOP_EVENTS.name, key=key, value=value)
        self._producer.flush()

    def _envelope(self, customer: str, at: datetime) -> dict[str, Any]:
        return {
            "id": f"{self.shop_id}-{customer}-{next(_ids)}-{time.time_ns()}",
            "source": f"/shops/{self.shop_id}/test",
            "time": at,
            "shopid": self.shop_id,
            "customerid": customer,
        }

    def customer_created(self, customer: str, at: datetime, *, signup: bool = True) -> None:
        """A new customer with consent on both channels (`signup=False`: an update instead)."""
        granted = shop.ChannelConsent(
            status=shop.ConsentStatus.GRANTED, source="signup_form", recorded_at=at
        )
        details = {
            "email": f"{customer}@example.com",
            "phone": "+14155550123",
            "first_name": "Ada",
            "time_zone": "Europe/Amsterdam",
            "consent": shop.Consent(email=granted, sms=granted),
        }
        envelope = self._envelope(customer, at)
        if signup:
            self.send(ev.CustomerCreatedEvent(**envelope, data=shop.CustomerCreated(**details)))
        else:
            self.send(ev.CustomerUpdatedEvent(**envelope, data=shop.CustomerUpdated(**details)))

    def cart_updated(self, customer: str, cart_id: str, at: datetime) -> None:
        item = shop.LineItem(
            product_id="sku-1",
            title="Coffee beans",
            category="coffee",
            price=Money(amount=Decimal("12.50"), currency="EUR"),
            quantity=2,
        )
        data = shop.CartUpdated(
            cart_id=cart_id,
            items=[item],
            value=Money(amount=Decimal("25.00"), currency="EUR"),
            recovery_url=f"https://{self.shop_id}.example/cart/{cart_id}",
        )
        self.send(ev.CartUpdatedEvent(**self._envelope(customer, at), data=data))

    def order_placed(self, customer: str, order_id: str, at: datetime) -> None:
        item = shop.LineItem(product_id="sku-1", title="Coffee beans", category="coffee")
        data = shop.OrderPlaced(
            order_id=order_id,
            items=[item],
            total=Money(amount=Decimal("25.00"), currency="EUR"),
        )
        self.send(ev.OrderPlacedEvent(**self._envelope(customer, at), data=data))


def wait_for(
    window: TopicWindow,
    shop_id: str,
    done: Callable[[list[Record]], bool],
    timeout: float,
) -> list[Record]:
    """Poll the topic until `done` holds for this shop's records, or fail with what was seen."""
    deadline = time.monotonic() + timeout
    records = window.for_shop(shop_id)
    while not done(records):
        if time.monotonic() > deadline:
            seen = [(r.value["type"], r.value["data"].get("step_id")) for r in records]
            raise AssertionError(f"timed out after {timeout}s; records for {shop_id}: {seen}")
        time.sleep(0.5)
        records = window.for_shop(shop_id)
    return records
