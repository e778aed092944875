"""The outbox on the real database and broker: records kept while the broker did not
acknowledge them are published later, oldest first, and removed only once acknowledged."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.dispatch import outbox
from services.dispatch.outbox import Outbound, Relay
from services.dispatch.settings import DispatchSettings
from services.dispatch.statuses import KafkaStatuses, status_producer
from services.dispatch.stores.postgres import PostgresStore
from shared.clock import SystemClock
from shared.loop_producer import LoopProducer
from shared.settings import KafkaSettings
from shared.topics import MESSAGES_STATUS
from tests.support.kafka_records import TopicWindow
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(stack: Stack) -> AsyncIterator[AsyncEngine]:
    found = create_async_engine(stack.database_url)
    async with found.begin() as conn:  # records other tests left are not this test's
        await conn.execute(text("DELETE FROM dispatch_outbox"))
    yield found
    await found.dispose()


@pytest.fixture
async def producer(stack: Stack) -> AsyncIterator[LoopProducer]:
    kafka = KafkaSettings(bootstrap_servers=stack.kafka_bootstrap)
    started = status_producer(kafka, DispatchSettings())
    await started.start()
    yield started
    await started.stop()


def statuses(shop: str, count: int) -> list[Outbound]:
    return [
        Outbound(
            MESSAGES_STATUS.name,
            f"{shop}:c-{n}".encode(),
            f'{{"id": "s-{n}", "shopid": "{shop}", "n": {n}}}'.encode(),
        )
        for n in range(count)
    ]


async def kept(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        count: int = (await conn.execute(text("SELECT count(*) FROM dispatch_outbox"))).scalar_one()
        return count


async def test_kept_records_reach_the_topic_in_order_and_leave_the_outbox(
    stack: Stack, engine: AsyncEngine, producer: LoopProducer
) -> None:
    shop = f"outbox-{uuid.uuid4().hex[:8]}"
    window = TopicWindow(stack.kafka_bootstrap, MESSAGES_STATUS.name)
    async with PostgresStore(engine).transaction() as tx:
        await outbox.keep(tx.outbox, statuses(shop, 7))

    relay = Relay(
        PostgresStore(engine),
        KafkaStatuses(producer, SystemClock()).send,
        ack_timeout_s=10,
        batch=5,
    )
    assert await relay.run_once() == 5
    assert await relay.run_once() == 2
    assert await relay.run_once() == 0
    assert await kept(engine) == 0
    on_topic = await asyncio.to_thread(window.for_shop, shop)
    window.close()
    assert [r.value["n"] for r in on_topic if r.key == f"{shop}:c-3"] == [3]
    assert sorted(r.value["n"] for r in on_topic) == list(range(7))


async def test_records_the_broker_does_not_acknowledge_stay_kept(engine: AsyncEngine) -> None:
    loop = asyncio.get_running_loop()
    acknowledged: list[bytes] = []

    async def send(record: Outbound) -> Awaitable[object]:
        answer: asyncio.Future[object] = loop.create_future()
        if record.key.endswith(b"c-1"):  # the broker never answers for this one
            return answer
        acknowledged.append(record.key)
        answer.set_result("acknowledged")
        return answer

    async with PostgresStore(engine).transaction() as tx:
        await outbox.keep(tx.outbox, statuses("shop-x", 3))

    assert await Relay(PostgresStore(engine), send, ack_timeout_s=0.2).run_once() == 2
    assert acknowledged == [b"shop-x:c-0", b"shop-x:c-2"]
    async with engine.connect() as conn:
        left = (await conn.execute(text("SELECT key FROM dispatch_outbox"))).scalars().all()
    assert [bytes(k) for k in left] == [b"shop-x:c-1"]


async def test_two_relays_never_publish_the_same_kept_record(engine: AsyncEngine) -> None:
    loop = asyncio.get_running_loop()
    sent: list[bytes] = []

    async def slow_send(record: Outbound) -> Awaitable[object]:
        sent.append(record.key)
        answer: asyncio.Future[object] = loop.create_future()
        loop.call_later(0.2, answer.set_result, "acknowledged")
        return answer

    async with PostgresStore(engine).transaction() as tx:
        await outbox.keep(tx.outbox, statuses("shop-y", 40))

    first, second = (
        Relay(PostgresStore(engine), slow_send, ack_timeout_s=10, batch=25) for _ in range(2)
    )
    counts = await asyncio.gather(first.run_once(), second.run_once())

    assert sorted(counts) == [15, 25]
    assert len(sent) == len(set(sent)) == 40
    assert await kept(engine) == 0
