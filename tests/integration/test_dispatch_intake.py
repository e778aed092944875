"""Dispatch's intake on the real database: `queued` is said for every trigger no sender has
taken yet, also when the trigger comes again (how a crash between the database commit and the
status's acknowledgement shows: the offsets were not committed, the poll is read again)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.dispatch.intake import Intake
from services.dispatch.outbox import Outbound
from shared.events.messages import MessageUpdate
from shared.events.triggers import TriggerFiredEvent
from shared.loop_producer import LoopProducer
from shared.topics import MESSAGES_STATUS, TRIGGERS_FIRED
from tests.support.stack import Stack
from tests.support.triggers import abandoned_cart_fired


class RecordedStatuses:
    def __init__(self) -> None:
        self.published: list[tuple[str, str]] = []

    def status(self, shop_id: str, customer_id: str, update: MessageUpdate) -> Outbound:
        self.published.append((update.trigger_id, update.status.value))
        return Outbound(MESSAGES_STATUS.name, f"{shop_id}:{customer_id}".encode(), b"{}")

    async def send(self, record: Outbound) -> Any:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


@pytest.fixture
async def engine(stack: Stack) -> AsyncIterator[AsyncEngine]:
    found = create_async_engine(stack.database_url)
    yield found
    await found.dispose()


def fired(shop: str, customer: str, step: str) -> ConsumerRecord[bytes, bytes]:
    value = abandoned_cart_fired(shop, customer, step).model_dump_json(exclude_none=True).encode()
    return ConsumerRecord(TRIGGERS_FIRED.name, 0, 0, 0, 0, None, value, None, 0, len(value), ())


async def test_a_repeated_trigger_still_waiting_is_announced_again(engine: AsyncEngine) -> None:
    shop = f"intake-{uuid.uuid4().hex[:8]}"
    statuses = RecordedStatuses()
    consumer, producer = cast(AIOKafkaConsumer, None), cast(LoopProducer, None)
    intake = Intake(consumer, producer, engine, statuses)  # handle() uses neither
    waiting, taken = fired(shop, "c1", "reminder-1"), fired(shop, "c2", "reminder-1")

    await intake.handle([waiting, taken])
    assert [status for _, status in statuses.published] == ["queued", "queued"]
    async with engine.begin() as conn:  # a sender took c2's message meanwhile
        await conn.execute(
            text(
                "UPDATE messages SET state = 'sent', attempts = 1 WHERE customer_id = 'c2'"
                " AND shop_id = :shop"
            ),
            {"shop": shop},
        )

    statuses.published.clear()
    await intake.handle([waiting, taken, waiting])  # the poll read again, c1 twice
    first_id = TriggerFiredEvent.model_validate_json(waiting.value or b"").id
    assert statuses.published == [(first_id, "queued")]
    async with engine.connect() as conn:
        count = await conn.execute(
            text("SELECT count(*) FROM messages WHERE shop_id = :shop"), {"shop": shop}
        )
        assert count.scalar_one() == 2
