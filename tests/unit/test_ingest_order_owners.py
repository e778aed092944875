"""Ingest's unsaved order owners stay bounded while the database is unavailable: the oldest
are dropped with an error and counted, the newest kept for the next round."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from sqlalchemy.ext.asyncio import AsyncEngine

from services.ingest import order_owners
from services.ingest.order_owners import OrderOwners
from shared.events import EventEnvelope
from shared.events.catalog import OrderPlacedEvent
from tests.support.database import unreachable_engine


@pytest.fixture
async def unreachable_database() -> AsyncIterator[AsyncEngine]:
    async with unreachable_engine() as engine:
        yield engine


def placed(order_id: str) -> EventEnvelope:
    return OrderPlacedEvent.model_validate(
        {
            "id": str(uuid.uuid4()),
            "source": "/shops/acme/test",
            "time": datetime.now(UTC),
            "shopid": "acme",
            "customerid": f"c-{order_id}",
            "data": {
                "order_id": order_id,
                "items": [{"product_id": "p1", "quantity": 1}],
                "total": {"amount": "10.00", "currency": "EUR"},
            },
        }
    )


def overflowed() -> float:
    labels = {"reason": "overflow"}
    return REGISTRY.get_sample_value("nudge_ingest_order_owners_dropped_total", labels) or 0.0


async def test_during_an_outage_the_unsaved_owners_are_bounded_oldest_dropped_first(
    unreachable_database: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(order_owners, "MAX_UNSAVED", 5)
    owners = OrderOwners(unreachable_database)
    before = overflowed()

    owners.remember([placed(f"o-{n}") for n in range(4)])
    with pytest.raises(OSError):
        await owners.stop()  # the round fails: the database is away; the owners are kept
    assert owners.unsaved == 4

    owners.remember([placed(f"o-{n}") for n in range(4, 8)])
    with pytest.raises(OSError):
        await owners.stop()

    assert owners.unsaved == 5
    assert overflowed() == before + 3
    assert "order owners dropped: 3 not saved yet" in caplog.text
    kept = set(owners._unsaved)
    assert kept == {("acme", f"o-{n}") for n in range(3, 8)}  # the newest
