"""The librdkafka producer the services share, on the real broker: a delivery resolves once
the record is on the topic, fails in bounded time without a broker, and a fatal producer error
leaves a working producer behind."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from confluent_kafka import KafkaError, KafkaException

from shared.loop_producer import LoopProducer, ProducerStopped
from shared.settings import KafkaSettings
from shared.topics import MESSAGES_STATUS
from tests.support.ingest_process import free_port
from tests.support.kafka_records import TopicWindow
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

TOPIC = MESSAGES_STATUS.name


def producer_for(bootstrap: str, timeout_s: float) -> LoopProducer:
    return LoopProducer(
        KafkaSettings(bootstrap_servers=bootstrap),
        client_id="nudge-test",
        timeout_s=timeout_s,
        linger_ms=2,
        probe_topic=TOPIC,
    )


@pytest.fixture
async def producer(stack: Stack) -> AsyncIterator[LoopProducer]:
    started = producer_for(stack.kafka_bootstrap, 5.0)
    await started.start()
    yield started
    await started.stop()


@pytest.fixture
def statuses(stack: Stack) -> Iterator[TopicWindow]:
    window = TopicWindow(stack.kafka_bootstrap, TOPIC)
    yield window
    window.close()


def deliver(producer: LoopProducer, shop: str, n: int) -> asyncio.Future[None]:
    value = json.dumps({"id": f"r-{n}", "shopid": shop}).encode()
    return producer.delivery(TOPIC, value, f"{shop}:c-{n}".encode())


async def test_a_delivery_resolves_once_the_record_is_on_the_topic(
    producer: LoopProducer, statuses: TopicWindow
) -> None:
    shop = f"loop-{uuid.uuid4().hex[:8]}"
    assert producer.ready
    deliveries = [deliver(producer, shop, n) for n in range(20)]
    await asyncio.wait_for(asyncio.gather(*deliveries), 10)
    on_topic = await asyncio.to_thread(statuses.for_shop, shop)
    assert sorted(r.value["id"] for r in on_topic) == sorted(f"r-{n}" for n in range(20))


async def test_without_a_broker_a_delivery_fails_within_its_timeout() -> None:
    producer = producer_for(f"127.0.0.1:{free_port()}", 1.0)
    started = time.monotonic()
    await producer.start()
    assert not producer.ready
    with pytest.raises(KafkaException) as failed:
        await asyncio.wait_for(deliver(producer, "nobody", 1), 5)
    assert failed.value.args[0].code() == KafkaError._MSG_TIMED_OUT
    assert time.monotonic() - started < 5
    await producer.stop()
    with pytest.raises(ProducerStopped):
        deliver(producer, "nobody", 2)


async def test_a_fatal_producer_error_brings_a_fresh_producer(
    producer: LoopProducer, statuses: TopicWindow
) -> None:
    shop = f"loop-{uuid.uuid4().hex[:8]}"
    await deliver(producer, shop, 0)
    fatal = KafkaError(KafkaError._FATAL, "injected by the test", fatal=True)
    producer._on_error(producer._generation, fatal)
    await asyncio.sleep(0.1)  # the replacement runs once the loop gets to it
    assert producer._generation == 2
    producer._on_error(1, fatal)  # a late report from the old producer changes nothing
    await asyncio.sleep(0.1)
    assert producer._generation == 2
    await deliver(producer, shop, 1)
    on_topic = await asyncio.to_thread(statuses.for_shop, shop)
    assert sorted(r.value["id"] for r in on_topic) == ["r-0", "r-1"]
