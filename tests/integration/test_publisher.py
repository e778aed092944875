"""Ingest's librdkafka publisher on the real broker: acknowledged means on the topic, an
absent broker means BrokerUnavailable in bounded time (the producer itself: test_loop_producer)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from shared.events import SHOP_EVENT, EventEnvelope
from shared.publisher import BrokerUnavailable, EventPublisher
from shared.settings import KafkaSettings
from shared.topics import SHOP_EVENTS
from tests.support.ingest_process import free_port
from tests.support.kafka_records import TopicWindow
from tests.support.payloads import order_placed
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

SHOP = "publisher-test"


def events(count: int) -> list[EventEnvelope]:
    return [
        SHOP_EVENT.validate_python(
            {**order_placed(f"c-{n}"), "shopid": SHOP, "source": f"/shops/{SHOP}/t"}
        )
        for n in range(count)
    ]


TO_SHOP_EVENTS: dict[str, Any] = {
    "topic": SHOP_EVENTS.name,
    "client_id": "nudge-ingest",
    "linger_ms": 2,
}


@pytest.fixture
async def publisher(stack: Stack) -> AsyncIterator[EventPublisher]:
    started = EventPublisher(
        KafkaSettings(bootstrap_servers=stack.kafka_bootstrap), timeout_s=5.0, **TO_SHOP_EVENTS
    )
    await started.start()
    yield started
    await started.stop()


async def test_acknowledged_events_are_on_the_topic(
    stack: Stack, publisher: EventPublisher, shop_events: TopicWindow
) -> None:
    assert publisher.ready
    sent = events(30)
    await asyncio.gather(publisher.publish(sent[:10]), publisher.publish(sent[10:]))
    records = shop_events.for_shop(SHOP)
    assert sorted(r.value["id"] for r in records) == sorted(e.id for e in sent)
    assert {r.key for r in records} == {e.key for e in sent}


async def test_without_a_broker_publish_gives_up_within_its_timeout() -> None:
    publisher = EventPublisher(
        KafkaSettings(bootstrap_servers=f"127.0.0.1:{free_port()}"),
        timeout_s=1.0,
        **TO_SHOP_EVENTS,
    )
    started = time.monotonic()
    await publisher.start()
    assert not publisher.ready
    with pytest.raises(BrokerUnavailable):
        await publisher.publish(events(3))
    assert time.monotonic() - started < 4
    await publisher.stop()
