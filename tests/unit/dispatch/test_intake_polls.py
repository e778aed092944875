"""When intake commits a poll's offsets, and how it gives a poll back that it could not store.

The consumer is a stand-in that records seeks and commits; the database is a real address
where nothing listens, so the failure is the one an outage produces.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any, cast

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from sqlalchemy.ext.asyncio import AsyncEngine

from services.dispatch.intake import Intake
from services.dispatch.ports import Store
from services.dispatch.sender import StatusSink
from services.dispatch.stores.postgres import PostgresStore
from shared.clock import make_clock
from shared.loop_producer import LoopProducer
from shared.polls import PollGivenBack
from shared.topics import SHOP_EVENTS
from tests.support.database import unreachable_engine

P0, P3, P5 = (TopicPartition(SHOP_EVENTS.name, p) for p in (0, 3, 5))


def customer_updated(partition: int, offset: int) -> ConsumerRecord[bytes, bytes]:
    value = orjson.dumps(
        {
            "specversion": "1.0",
            "id": f"e-{partition}-{offset}",
            "source": "/shops/acme/test",
            "type": "customer.updated",
            "time": datetime.now(UTC).isoformat(),
            "shopid": "acme",
            "customerid": f"c{offset}",
            "data": {"email": f"c{offset}@example.com"},
        }
    )
    return ConsumerRecord(
        SHOP_EVENTS.name, partition, offset, 0, 0, None, value, None, 0, len(value), ()
    )


class Consumer:
    """One poll of records at offsets 5-7 on partition 0, 10-11 on 3 and 20 on 5; partition 5
    was revoked while the poll was being stored."""

    def __init__(self) -> None:
        self.batches = {
            P0: [customer_updated(0, o) for o in (5, 6, 7)],
            P3: [customer_updated(3, o) for o in (10, 11)],
            P5: [customer_updated(5, 20)],
        }
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.commits: list[dict[TopicPartition, int]] = []

    async def getmany(self, **_: Any) -> dict[TopicPartition, list[Any]]:
        return self.batches

    def assignment(self) -> set[TopicPartition]:
        return {P0, P3}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(offsets)


@pytest.fixture
async def unreachable_database() -> AsyncIterator[AsyncEngine]:
    async with unreachable_engine() as engine:
        yield engine


def intake(
    consumer: Consumer, engine: AsyncEngine | None = None, kind: type[Intake] = Intake
) -> Intake:
    store = cast(Store, None) if engine is None else PostgresStore(engine)
    return kind(
        cast(AIOKafkaConsumer, consumer),
        cast(LoopProducer, None),
        store,
        cast(StatusSink, None),
        make_clock(),
    )


async def test_a_poll_the_database_cannot_take_is_given_back_uncommitted(
    unreachable_database: AsyncEngine,
) -> None:
    consumer = Consumer()

    with pytest.raises(PollGivenBack) as raised:
        await intake(consumer, unreachable_database).run_once()

    assert raised.value.transient
    assert isinstance(raised.value.__cause__, OSError)
    assert consumer.commits == []
    # Back to each partition's first offset of the poll; the revoked one is its new owner's.
    assert sorted(consumer.seeks) == [(P0, 5), (P3, 10)]


async def test_a_stored_poll_commits_the_offset_after_its_last_record() -> None:
    consumer = Consumer()

    class Storing(Intake):
        async def handle(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
            assert len(records) == 6

    stored = intake(consumer, kind=Storing)
    assert await stored.run_once() == 6

    assert consumer.seeks == []
    assert consumer.commits == [{P0: 8, P3: 12}]


async def test_a_failure_that_is_not_the_databases_also_gives_the_poll_back() -> None:
    """The broker not acknowledging a status or a dead letter: nothing may be skipped."""
    consumer = Consumer()

    class BrokerDown(Intake):
        async def handle(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
            raise RuntimeError("dead letter not acknowledged")

    with pytest.raises(PollGivenBack) as raised:
        await intake(consumer, kind=BrokerDown).run_once()

    assert not raised.value.transient
    assert consumer.commits == []
    assert sorted(consumer.seeks) == [(P0, 5), (P3, 10)]
