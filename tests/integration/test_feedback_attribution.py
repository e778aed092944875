"""Attribution on the real broker and database: the PostgreSQL touch store against the one
contract suite, and the feedback service as it runs turning a click followed by an order into
exactly one conversion on `conversions.v1`."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.feedback.attribution.postgres import PostgresTouchStore
from services.feedback.attribution.store import TouchLimits, TouchStore
from shared.events.conversions import conversion_event_id, parse_conversion_event
from shared.topics import (
    CONVERSIONS,
    FEEDBACK_EVENTS,
    MESSAGES_STATUS,
    SHOP_EVENTS,
    dead_letter_topic,
)
from tests.support.database import run_sql
from tests.support.feedback_process import running_feedback
from tests.support.kafka_records import Record, TopicWindow
from tests.support.stack import Stack
from tests.support.touch_store_contract import LIMITS, TouchStoreContract

pytestmark = pytest.mark.integration


class TestPostgresTouchStore(TouchStoreContract):
    @pytest.fixture(autouse=True)
    async def _engine(self, stack: Stack) -> AsyncIterator[None]:
        self.engine: AsyncEngine = create_async_engine(stack.database_url)
        yield
        await self.engine.dispose()

    def store(self, limits: TouchLimits = LIMITS) -> TouchStore:
        return PostgresTouchStore(self.engine, limits)


@pytest.fixture(scope="module")
def feedback_url(stack: Stack, logs_dir: Path) -> Iterator[str]:
    with running_feedback(
        stack.kafka_bootstrap, stack.database_url, logs_dir / "feedback-attribution.log"
    ) as base:
        yield base


def _event(shop: str, kind: str, at: datetime, data: dict[str, Any], **extra: Any) -> bytes:
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/tests",
            "type": kind,
            "time": at.isoformat(),
            "shopid": shop,
            "customerid": "c1",
            "data": data,
            **extra,
        }
    )


def _order(shop: str, order_id: str, at: datetime, total: str) -> bytes:
    price = {"amount": total, "currency": "EUR"}
    items = [{"product_id": "beans", "quantity": 1, "price": price}]
    data = {"order_id": order_id, "items": items, "total": price}
    return _event(shop, "order.placed", at, data)


def _until(found: Any, what: str, timeout_s: float = 30) -> Any:
    """Poll `found()` until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = found()
        if result:
            return result
        time.sleep(0.3)
    raise AssertionError(f"no {what} within {timeout_s:g}s")


def test_a_click_then_an_order_within_the_window_is_one_conversion(
    stack: Stack, feedback_url: str
) -> None:
    shop = f"fb-{uuid.uuid4().hex[:8]}"
    key = f"{shop}:c1".encode()
    message_id, trigger_id = str(uuid.uuid4()), f"t-{uuid.uuid4().hex}"
    ordered_at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    conversions = TopicWindow(stack.kafka_bootstrap, CONVERSIONS.name)
    dead_letters = TopicWindow(stack.kafka_bootstrap, dead_letter_topic(SHOP_EVENTS.name).name)
    sent = {
        "message_id": message_id,
        "trigger_id": trigger_id,
        "campaign_id": "cross_sell",
        "step_id": "offer",
        "channel": "email",
        "transactional": False,
        "status": "sent",
        "provider_id": "250 2.0.0 Ok: queued",
    }
    clicked = {
        "channel": "email",
        "message": {"message_id": message_id},
        "url": "https://demo-coffee.example/beans",
    }
    order = _order(shop, "o-1", ordered_at, "33.95")
    producer = KafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    for topic, value in (
        (MESSAGES_STATUS.name, _event(shop, "message.sent", ordered_at - timedelta(days=3), sent)),
        (
            FEEDBACK_EVENTS.name,
            _event(shop, "message.clicked", ordered_at - timedelta(days=4, hours=23), clicked),
        ),
    ):
        producer.send(topic, key=key, value=value).get(timeout=10)
    # The touches are stored before the order is read (another topic: no order between them).
    _until(
        lambda: (
            run_sql(
                stack.database_url,
                "SELECT count(*) FROM feedback_touches WHERE shop_id = :shop",
                shop=shop,
            )[0][0]
            == 2
        ),
        "stored touches",
    )
    producer.send(SHOP_EVENTS.name, key=key, value=order).get(timeout=10)

    def converted(order_id: str) -> list[Record]:
        found = conversions.for_shop(shop)
        return found if any(r.value["data"]["order_id"] == order_id for r in found) else []

    _until(lambda: converted("o-1"), "conversion of the order")
    for value in (
        order,  # replayed: the order keeps its one conversion
        b'{"type": "order.placed", "data": "broken"}',  # parked once; its neighbours go on
        _order(shop, "o-2", ordered_at + timedelta(minutes=5), "12.50"),  # read after both
    ):
        producer.send(SHOP_EVENTS.name, key=key, value=value)
    producer.flush()
    producer.close()

    records = _until(lambda: converted("o-2"), "conversion of the last order")
    assert [r.value["data"]["order_id"] for r in records] == ["o-1", "o-2"]
    first = parse_conversion_event(orjson.dumps(records[0].value))
    assert records[0].key == f"{shop}:c1"
    assert first.id == conversion_event_id(shop, "o-1")
    assert first.time == ordered_at
    assert first.data.revenue.amount == Decimal("33.95")
    assert first.data.revenue.currency == "EUR"
    assert first.data.message.message_id == message_id
    assert first.data.message.trigger_id == trigger_id
    assert first.data.message.campaign_id == "cross_sell"
    assert (first.data.touch, first.data.window) == ("click", timedelta(days=5))
    assert first.data.touched_at == ordered_at - timedelta(days=4, hours=23)
    rows = run_sql(
        stack.database_url,
        "SELECT order_id, revenue, published_at IS NOT NULL FROM feedback_conversions"
        " WHERE shop_id = :shop ORDER BY order_id",
        shop=shop,
    )
    assert [tuple(row) for row in rows] == [
        ("o-1", Decimal("33.95"), True),
        ("o-2", Decimal("12.50"), True),
    ]

    def parked() -> list[Record]:
        return [r for r in dead_letters.since_start() if r.key == f"{shop}:c1"]

    [letter] = _until(parked, "dead letter")  # the index's: attribution leaves it to it
    assert letter.value["service"] == "feedback"
    conversions.close()
    dead_letters.close()
