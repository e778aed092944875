"""Claims on the real database: a round that fails after claiming gives its rows back at
once, uncounted, instead of holding the customers' other messages until the lease runs out;
a claim reads only the rows it takes, however long the backlog; and it reads the rows
another sender is deciding on once, not once per candidate."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.dispatch import contacts, message_log
from services.dispatch.message_log import MessageRow
from services.dispatch.sender import Delivery, Outlet, Sender
from services.dispatch.settings import DispatchSettings
from services.dispatch.shop_profiles import ShopProfiles
from services.dispatch.templates.store import TemplateStore
from shared.clock import make_clock
from tests.support.dispatch_process import TEST_LINK_KEYS, private_database
from tests.support.stack import Stack
from tests.support.triggers import abandoned_cart_fired

pytestmark = pytest.mark.integration

LEASE_S = 60.0


@pytest.fixture(scope="module")
def database_url(stack: Stack) -> Iterator[str]:
    """A database of its own: a claim takes any due row, other tests' included."""
    yield private_database(stack.database_url, "nudge_claims_test")


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    found = create_async_engine(database_url)
    yield found
    await found.dispose()


async def claim(engine: AsyncEngine, limit: int = 10) -> list[MessageRow]:
    async with engine.begin() as conn:
        return await message_log.claim(
            conn, limit, LEASE_S, datetime.now(UTC) + timedelta(minutes=1)
        )


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
    async with engine.begin() as conn:
        await message_log.enqueue(conn, backlog)
        await conn.execute(text("ANALYZE messages"))
    explain = text("EXPLAIN (ANALYZE, FORMAT JSON) " + str(message_log._CLAIM))
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
    every row it considers. Probed per candidate, a claim of 200 compared 60,000 pairs (40 ms
    with two senders, under the claim lock, so the other sender waited too)."""
    shop = f"deciding-{uuid.uuid4().hex[:8]}"
    being_decided = [abandoned_cart_fired(shop, f"d-{n}", "reminder-1") for n in range(300)]
    waiting = [abandoned_cart_fired(shop, f"w-{n}", "reminder-1") for n in range(2000)]
    explain = text("EXPLAIN (ANALYZE, FORMAT JSON) " + str(message_log._CLAIM))
    now = datetime.now(UTC) + timedelta(minutes=1)
    try:
        async with engine.begin() as conn:
            await message_log.enqueue(conn, being_decided)
        assert len(await claim(engine, limit=300)) == 300  # the other sender's round
        async with engine.begin() as conn:
            await message_log.enqueue(conn, waiting)
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


async def test_a_released_claim_frees_its_customer_and_costs_no_attempt(
    engine: AsyncEngine,
) -> None:
    shop = f"claims-{uuid.uuid4().hex[:8]}"
    first = abandoned_cart_fired(shop, "c-1", "reminder-1")
    second = abandoned_cart_fired(shop, "c-1", "reminder-2")
    async with engine.begin() as conn:
        await message_log.enqueue(conn, [first, second])

    taken = await claim(engine, limit=1)
    assert len(taken) == 1 and taken[0].attempts == 1
    assert await claim(engine) == [], "the customer's other message waits while one is decided"

    async with engine.begin() as conn:
        await message_log.release(conn, taken)

    again = await claim(engine)
    assert {r.trigger_id for r in again} == {first.id, second.id}
    assert [r.attempts for r in again] == [1, 1]
    assert {r.state for r in again} == {"queued"}


async def test_release_leaves_rows_the_round_recorded(engine: AsyncEngine) -> None:
    shop = f"claims-{uuid.uuid4().hex[:8]}"
    fired = abandoned_cart_fired(shop, "c-2", "reminder-1")
    async with engine.begin() as conn:
        await message_log.enqueue(conn, [fired])
    (row,) = await claim(engine)
    async with engine.begin() as conn:
        await message_log.mark_sending(
            conn,
            [
                {
                    "trigger_id": row.trigger_id,
                    "channel": "email",
                    "message_id": str(uuid.uuid4()),
                    "address": "c-2@example.com",
                }
            ],
        )
        await message_log.release(conn, [row])
    assert await claim(engine) == [], "a row with a message id is being sent: still leased"


async def test_a_round_that_fails_after_claiming_gives_its_rows_back(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = f"claims-{uuid.uuid4().hex[:8]}"
    fired = [abandoned_cart_fired(shop, "c-3", step) for step in ("reminder-1", "reminder-2")]
    async with engine.begin() as conn:
        await message_log.enqueue(conn, fired)

    async def broken(*_: object) -> None:
        raise RuntimeError("the contacts could not be read")

    monkeypatch.setattr(contacts, "load", broken)
    sender = Sender(
        engine,
        templates=cast(TemplateStore, None),  # the round fails before it needs the rest
        shops=cast(ShopProfiles, None),
        delivery=cast(Delivery, None),
        statuses=cast(Outlet, None),
        settings=DispatchSettings(claim_batch=1),
        link_keys=TEST_LINK_KEYS,
        clock=make_clock(),
    )
    with pytest.raises(RuntimeError):
        await sender.run_round()

    again = await claim(engine)
    assert {r.trigger_id for r in again} == {f.id for f in fired}
    assert [r.attempts for r in again] == [1, 1]
