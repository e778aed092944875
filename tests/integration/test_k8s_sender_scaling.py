"""The query KEDA scales dispatch's senders on (deploy/k8s/base/dispatch/scaledobjects.yaml),
run against the real message log: it counts exactly the messages a claim would take now (due
waiting ones and those whose sender's lease ran out), nothing the senders must leave alone.
Run inside one transaction, rolled back: the shared test database keeps what it had."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.support.kustomize import rendered
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
INSERT = text(
    """
INSERT INTO messages (trigger_id, shop_id, customer_id, campaign_id, journey_id, step_id,
                      transactional, trigger, state, next_attempt_at, lease_until)
VALUES (:id, 'keda-shop', :id, 'welcome', :id, 'welcome', false, CAST(:trigger AS jsonb),
        :state, now() + make_interval(secs => :due_in), now() + make_interval(secs => :lease_in))
"""
)
ROWS = [
    # (state, next attempt due in, lease ends in, counted)
    ("queued", -5, None, True),
    ("deferred", -60, None, True),
    ("retrying", -1, None, True),
    ("queued", 3600, None, False),  # quiet hours: not due yet
    ("retrying", 30, None, False),  # backing off
    ("sending", None, -10, True),  # its sender died: taken over
    ("sending", None, 50, False),  # being sent now
    ("sent", None, None, False),
    ("failed", None, None, False),
]


def sender_query() -> str:
    (scaled,) = [
        obj
        for obj in rendered("dev")
        if obj["kind"] == "ScaledObject" and obj["metadata"]["name"] == "dispatch-sender"
    ]
    (trigger,) = scaled["spec"]["triggers"]
    assert trigger["type"] == "postgresql"
    return str(trigger["metadata"]["query"])


def test_the_senders_backlog_query_counts_the_messages_a_claim_would_take(stack: Stack) -> None:
    query = text(sender_query())

    async def run() -> tuple[Any, Any]:
        engine = create_async_engine(stack.database_url, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                transaction = await conn.begin()
                before = (await conn.execute(query)).scalar_one()
                for n, (state, due_in, lease_in, _) in enumerate(ROWS):
                    await conn.execute(
                        INSERT,
                        {
                            "id": f"keda-backlog-{n}",
                            "trigger": json.dumps({}),
                            "state": state,
                            "due_in": due_in,
                            "lease_in": lease_in,
                        },
                    )
                after = (await conn.execute(query)).scalar_one()
                await transaction.rollback()
                return before, after
        finally:
            await engine.dispose()

    before, after = asyncio.run(run())
    assert isinstance(after, float)  # KEDA reads the value as a number
    assert after - before == sum(1 for *_, counted in ROWS if counted)
