"""Dispatch's intake on the real database: `queued` is said for every trigger no sender has
taken yet, also when the trigger comes again (how a crash between the database commit and the
status's acknowledgement shows: the offsets were not committed, the poll is read again); the
segmenter's profiles are kept newest first, beside the contact, and read with it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any, cast

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.dispatch.intake import Intake
from services.dispatch.outbox import Outbound
from services.dispatch.policy import Contact
from services.dispatch.stores.postgres import PostgresStore
from shared.clock import SystemClock
from shared.events.messages import MessageUpdate
from shared.events.shop import Channel
from shared.events.triggers import TriggerFiredEvent
from shared.loop_producer import LoopProducer
from shared.topics import MESSAGES_STATUS, SHOP_EVENTS, TRIGGERS_FIRED
from tests.support.dispatch_profiles import NOON, profile, record, sms_engaged
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
    intake = Intake(consumer, producer, PostgresStore(engine), statuses, SystemClock())
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


def customer_created(shop: str, customer: str) -> ConsumerRecord[bytes, bytes]:
    value = orjson.dumps(
        {
            "specversion": "1.0",
            "id": f"{shop}-{customer}-created",
            "source": f"/shops/{shop}/test",
            "type": "customer.created",
            "time": NOON.isoformat(),
            "shopid": shop,
            "customerid": customer,
            "data": {"email": f"{customer}@example.com", "phone": "+31612345678"},
        }
    )
    key = f"{shop}:{customer}".encode()
    return ConsumerRecord(SHOP_EVENTS.name, 0, 0, 0, 0, key, value, None, 0, len(value), ())


@pytest.mark.integration
async def test_the_newest_profile_is_kept_and_read_with_the_contact(engine: AsyncEngine) -> None:
    """Profiles on `customer.profiles.v1` in any order, twice over: the newest stays; the
    contact's one query brings its preferred channel and monetary score; a profile does not
    make an unknown customer a contact; a tombstone forgets the profile, not the contact."""
    shop = f"profiles-{uuid.uuid4().hex[:8]}"
    intake = Intake(
        cast(AIOKafkaConsumer, None),
        cast(LoopProducer, None),
        PostgresStore(engine),
        RecordedStatuses(),
        SystemClock(),
    )
    newer = profile(shop, "c1", at=NOON, engagement=sms_engaged(), monetary=5)
    older = profile(
        shop,
        "c1",
        at=NOON - timedelta(days=1),
        engagement={"email": {"sent": 1, "opened": 1, "last_engaged_at": NOON.isoformat()}},
        monetary=1,
    )
    stranger = profile(shop, "c2", engagement=sms_engaged(), monetary=3)

    async def contacts_now() -> dict[tuple[str, str], Contact]:
        async with PostgresStore(engine).transaction() as tx:
            return await tx.contacts.load({(shop, "c1"), (shop, "c2")})

    await intake.handle([customer_created(shop, "c1"), record(newer), record(stranger)])
    await intake.handle([record(older)])  # late, and alone in its poll
    await intake.handle([record(newer), record(older), record(newer)])  # the poll read again
    found = await contacts_now()
    assert set(found) == {(shop, "c1")}  # c2 has a profile, not a contact
    ada = found[(shop, "c1")]
    assert (ada.preferred_channel, ada.monetary_score) == (Channel.SMS, 5)
    assert ada.email.address == "c1@example.com"

    await intake.handle([record(None, key=f"{shop}:c1")])
    ada = (await contacts_now())[(shop, "c1")]
    assert (ada.preferred_channel, ada.monetary_score) == (None, None)
    assert ada.email.address == "c1@example.com"
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT customer_id FROM dispatch_profiles WHERE shop_id = :shop"),
            {"shop": shop},
        )
        assert [row[0] for row in rows] == ["c2"]
