"""The PostgreSQL store against the contract suites of the message log and the contact store,
on a database of its own (a claim takes any due row), migrated once, emptied between tests;
and the claim held to its plans: it reads only the rows it takes, however long the backlog,
and the rows another sender is deciding on once, not once per candidate."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.dispatch.message_log import MessageRow
from services.dispatch.ports import Store
from services.dispatch.stores.postgres import _CLAIM, PostgresStore
from shared.events.triggers import TriggerFiredEvent
from tests.support.contact_store_contract import ContactStoreContract
from tests.support.dispatch_process import private_database
from tests.support.message_log_contract import MessageLogContract
from tests.support.stack import Stack
from tests.support.triggers import abandoned_cart_fired

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def database_url(stack: Stack) -> Iterator[str]:
    """Named after the session's database: sessions on other databases do not share it."""
    own = make_url(stack.database_url).database or "nudge"
    yield private_database(stack.database_url, f"{own}_dispatch_store")


@pytest.fixture(scope="module")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    found = create_async_engine(database_url)
    yield found
    await found.dispose()


class TestPostgresMessageLog(MessageLogContract):
    @pytest.fixture(autouse=True)
    async def _empty(self, engine: AsyncEngine) -> None:
        self.engine = engine
        async with engine.begin() as conn:
            await conn.execute(text("TRUNCATE messages, dispatch_outbox"))

    def store(self) -> Store:
        return PostgresStore(self.engine)

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def wait(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class TestPostgresContactStore(ContactStoreContract):
    @pytest.fixture(autouse=True)
    def _engine(self, engine: AsyncEngine) -> None:
        self.engine = engine

    def store(self) -> Store:
        return PostgresStore(self.engine)


LEASE_S = 60.0


async def claim(engine: AsyncEngine, limit: int = 10) -> list[MessageRow]:
    async with PostgresStore(engine).transaction() as tx:
        return await tx.log.claim(limit, LEASE_S, datetime.now(UTC) + timedelta(minutes=1))


async def enqueue(engine: AsyncEngine, fired: list[TriggerFiredEvent]) -> None:
    async with PostgresStore(engine).transaction() as tx:
        await tx.log.enqueue(fired)


def _scans(plan: dict[str, Any], alias: str) -> list[dict[str, Any]]:
    named = plan.get("Alias", "")  # the second CTE's copy is `alias_1`
    found = [plan] if named == alias or named.startswith(f"{alias}_") else []
    for child in plan.get("Plans", []):
        found += _scans(child, alias)
    return found


async def test_a_claim_reads_the_rows_it_takes_not_the_whole_backlog(engine: AsyncEngine) -> None:
    """Due rows are read in their index's order up to the limit, so a claim costs the same
    with 5,000 waiting (or a long outage's backlog) as with a few. One scan with an OR and a
    sort read and sorted all 5,000 for every claim."""
    shop = f"backlog-{uuid.uuid4().hex[:8]}"
    backlog = [abandoned_cart_fired(shop, f"c-{n}", "reminder-1") for n in range(5000)]
    await enqueue(engine, backlog)
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE messages"))
    explain = text("EXPLAIN (ANALYZE, FORMAT JSON) " + str(_CLAIM))
    now = datetime.now(UTC) + timedelta(minutes=1)
    try:
        async with engine.connect() as conn:
            answer = await conn.execute(explain, {"limit": 10, "lease_s": LEASE_S, "now": now})
            plan = answer.scalar_one()[0]["Plan"]  # json, decoded by the driver
            await conn.rollback()  # EXPLAIN ANALYZE ran the claim: undo it
        scans = _scans(plan, "candidate")
        assert scans, "the claim's scans of the log"
        assert max(scan["Actual Rows"] for scan in scans) <= 10
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM messages WHERE shop_id = :shop"), {"shop": shop})


async def test_a_claim_reads_the_rows_being_decided_once(engine: AsyncEngine) -> None:
    """Another sender deciding on 300 customers: a claim reads their rows once, not once for
    every row it considers. Probed per candidate, a claim of 200 compared 60,000 pairs, under
    the claim lock, so the other sender waited too."""
    shop = f"deciding-{uuid.uuid4().hex[:8]}"
    being_decided = [abandoned_cart_fired(shop, f"d-{n}", "reminder-1") for n in range(300)]
    waiting = [abandoned_cart_fired(shop, f"w-{n}", "reminder-1") for n in range(2000)]
    explain = text("EXPLAIN (ANALYZE, FORMAT JSON) " + str(_CLAIM))
    now = datetime.now(UTC) + timedelta(minutes=1)
    try:
        await enqueue(engine, being_decided)
        assert len(await claim(engine, limit=300)) == 300  # the other sender's round
        await enqueue(engine, waiting)
        async with engine.connect() as conn:
            answer = await conn.execute(explain, {"limit": 200, "lease_s": LEASE_S, "now": now})
            plan = answer.scalar_one()[0]["Plan"]
            await conn.rollback()
        scans = _scans(plan, "deciding")
        assert scans, "the claim's look at the rows being decided"
        read = sum(scan["Actual Rows"] * scan["Actual Loops"] for scan in scans)
        assert read <= 2 * 300, f"rows being decided read {read} times for one claim"
        taken = _scans(plan, "candidate")
        assert sum(scan["Actual Rows"] for scan in taken) >= 200, "the claim still took a batch"
    finally:
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM messages WHERE shop_id = :shop"), {"shop": shop})
