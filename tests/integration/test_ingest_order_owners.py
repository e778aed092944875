"""Ingest's order owners on the real database: an owner PostgreSQL cannot hold (a NUL in an id,
from a producer that did not refuse it) is dropped with an error and counted, and never stops
the other owners of its round, or of later rounds, from being saved."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.ingest.order_owners import ORDER_PREFIX, OrderOwners
from shared.events import EventEnvelope
from shared.events.catalog import OrderPlacedEvent, OrderRefundedEvent
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture
async def engine(stack: Stack) -> AsyncIterator[AsyncEngine]:
    found = create_async_engine(stack.database_url)
    yield found
    await found.dispose()


def placed(shop: str, order_id: str, customer_id: str) -> EventEnvelope:
    event = OrderPlacedEvent.model_validate(
        {
            "id": str(uuid.uuid4()),
            "source": f"/shops/{shop}/test",
            "time": datetime.now(UTC),
            "shopid": shop,
            "customerid": "placeholder",
            "data": {
                "order_id": "placeholder",
                "items": [{"product_id": "p1", "quantity": 1}],
                "total": {"amount": "10.00", "currency": "EUR"},
            },
        }
    )
    # As a producer that did not check would hand it over: no validation on the way.
    data = event.data.model_copy(update={"order_id": order_id})
    return event.model_copy(update={"customerid": customer_id, "data": data})


def refunded(shop: str, order_id: str) -> EventEnvelope:
    event = OrderRefundedEvent.model_validate(
        {
            "id": str(uuid.uuid4()),
            "source": f"/shops/{shop}/test",
            "time": datetime.now(UTC),
            "shopid": shop,
            "anonymousid": f"{ORDER_PREFIX}placeholder",
            "data": {
                "order_id": "placeholder",
                "refund_id": "r1",
                "amount": {"amount": "10.00", "currency": "EUR"},
            },
        }
    )
    data = event.data.model_copy(update={"order_id": order_id})
    return event.model_copy(update={"anonymousid": f"{ORDER_PREFIX}{order_id}", "data": data})


async def saved_owners(engine: AsyncEngine, shop: str) -> dict[str, str]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT order_id, customer_id FROM order_customers WHERE shop_id = :shop"),
            {"shop": shop},
        )
        return {str(order): str(customer) for order, customer in rows}


def dropped(reason: str) -> float:
    value = REGISTRY.get_sample_value("nudge_ingest_order_owners_dropped_total", {"reason": reason})
    return value or 0.0


@pytest.mark.parametrize(
    ("bad_order", "bad_customer"),
    [("o-\x00-2", "c2"), ("o-2", "c\x002")],
    ids=["order", "customer"],
)
async def test_an_owner_postgresql_refuses_is_dropped_and_the_others_are_saved(
    engine: AsyncEngine, bad_order: str, bad_customer: str
) -> None:
    shop = f"owners-{uuid.uuid4().hex[:8]}"
    owners = OrderOwners(engine)
    refused_before = dropped("refused")

    owners.remember(
        [
            placed(shop, "o-1", "c1"),
            placed(shop, bad_order, bad_customer),
            placed(shop, "o-3", "c3"),
        ]
    )
    await owners.stop()  # the round in progress, then what is left

    assert await saved_owners(engine, shop) == {"o-1": "c1", "o-3": "c3"}
    assert owners.unsaved == 0
    assert dropped("refused") == refused_before + 1

    owners.remember([placed(shop, "o-4", "c4")])  # later rounds are not held up either
    await owners.stop()
    assert await saved_owners(engine, shop) == {"o-1": "c1", "o-3": "c3", "o-4": "c4"}
    assert owners.unsaved == 0


async def test_a_refund_naming_an_order_with_a_nul_does_not_fail_the_lookup_of_the_others(
    engine: AsyncEngine,
) -> None:
    shop = f"owners-{uuid.uuid4().hex[:8]}"
    writer = OrderOwners(engine)
    writer.remember([placed(shop, "o-1", "c1")])
    await writer.stop()

    reader = OrderOwners(engine)  # another worker: knows the owners from the database only
    rekeyed = await reader.rekey([refunded(shop, "o-\x00-9"), refunded(shop, "o-1")])

    assert [(e.customerid, e.anonymousid) for e in rekeyed] == [
        (None, f"{ORDER_PREFIX}o-\x00-9"),
        ("c1", None),
    ]
