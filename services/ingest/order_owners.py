"""Re-keying events that name only an order (Shopify refunds and fulfillments) to its customer.

Shopify's refunds/create, fulfillments/create and fulfillment_events/create payloads carry the
order id but no customer, so the adapter keys them `anon:order:<id>`. Ingest remembers the
customer of every order it publishes and moves such events onto the customer's key, where the
stream processors keep that customer's state (a delivery starts the review request there).
Orders placed before the shop joined Nudge stay under the order key.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.tables import OrderCustomerRow
from shared.events import EventEnvelope

log = logging.getLogger(__name__)

ORDER_PREFIX = "order:"
_OWNING_TYPES = frozenset({"order.placed", "order.cancelled"})


def _order_id(event: EventEnvelope) -> str | None:
    order_id = getattr(event.data, "order_id", None)  # type: ignore[attr-defined]
    return order_id if isinstance(order_id, str) else None


class OrderOwners:
    def __init__(self, engine: AsyncEngine, timeout_s: float = 0.5) -> None:
        self._engine = engine
        self._timeout_s = timeout_s  # a webhook never waits longer on the database

    async def rekey(self, events: Sequence[EventEnvelope]) -> list[EventEnvelope]:
        """Events keyed by an order get its customer's key when the order is known.

        Best effort: when the database cannot answer, the events keep the order key rather
        than the webhook failing.
        """
        try:
            async with asyncio.timeout(self._timeout_s):
                return await self._rekey(events)
        except Exception:
            log.exception("cannot look up order owners; keeping order keys")
            return list(events)

    async def remember(self, events: Sequence[EventEnvelope]) -> None:
        """Record the customer of each order an event names (best effort, logged)."""
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._remember(events)
        except Exception:
            log.exception("cannot record order owners")

    async def _rekey(self, events: Sequence[EventEnvelope]) -> list[EventEnvelope]:
        orphans = {
            e.anonymousid[len(ORDER_PREFIX) :]
            for e in events
            if e.customerid is None and e.anonymousid and e.anonymousid.startswith(ORDER_PREFIX)
        }
        if not orphans:
            return list(events)
        shop_id = events[0].shopid
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(OrderCustomerRow.order_id, OrderCustomerRow.customer_id)
                .where(OrderCustomerRow.shop_id == shop_id)
                .where(OrderCustomerRow.order_id.in_(orphans))
            )
            owners = {order_id: customer_id for order_id, customer_id in rows}
        out = []
        for event in events:
            order_id = _order_id(event)
            owner = owners.get(order_id) if order_id and event.customerid is None else None
            if owner is not None and event.anonymousid == f"{ORDER_PREFIX}{order_id}":
                event = event.model_copy(update={"customerid": owner, "anonymousid": None})
            out.append(event)
        return out

    async def _remember(self, events: Sequence[EventEnvelope]) -> None:
        rows = {
            (e.shopid, order_id): e.customerid
            for e in events
            if e.type in _OWNING_TYPES and e.customerid and (order_id := _order_id(e))
        }
        if not rows:
            return
        statement = insert(OrderCustomerRow).values(
            [{"shop_id": s, "order_id": o, "customer_id": c} for (s, o), c in rows.items()]
        )
        statement = statement.on_conflict_do_update(
            index_elements=["shop_id", "order_id"],
            set_={"customer_id": statement.excluded.customer_id},
        )
        async with self._engine.begin() as conn:
            await conn.execute(statement)
