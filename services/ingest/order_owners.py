"""Re-keying events that name only an order (Shopify refunds and fulfillments) to its customer.

Shopify's refunds/create, fulfillments/create and fulfillment_events/create payloads carry the
order id but no customer, so the adapter keys them `anon:order:<id>`. Ingest remembers the
customer of every order it publishes and moves such events onto the customer's key, where the
stream processors keep that customer's state (a delivery starts the review request there).
Orders placed before the shop joined Nudge stay under the order key.

Recording stays off the request path: owners are kept in memory and written to PostgreSQL by
a background task in one statement per round. A crash can lose the last round's owners; the
events of those orders then keep the order key, as for orders placed before Nudge.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.db.tables import OrderCustomerRow
from shared.events import EventEnvelope

log = logging.getLogger(__name__)

ORDER_PREFIX = "order:"
_OWNING_TYPES = frozenset({"order.placed", "order.cancelled"})
_CACHED_OWNERS = 100_000
_FLUSH_INTERVAL_S = 0.2

OrderKey = tuple[str, str]
"""(shop id, order id)"""


def _order_id(event: EventEnvelope) -> str | None:
    order_id = getattr(event.data, "order_id", None)  # type: ignore[attr-defined]
    return order_id if isinstance(order_id, str) else None


class OrderOwners:
    def __init__(self, engine: AsyncEngine, timeout_s: float = 0.5) -> None:
        self._engine = engine
        self._timeout_s = timeout_s  # a webhook never waits longer on the database
        self._known: OrderedDict[OrderKey, str] = OrderedDict()
        self._unsaved: dict[OrderKey, str] = {}
        self._flusher: asyncio.Task[None] | None = None

    async def rekey(self, events: Sequence[EventEnvelope]) -> list[EventEnvelope]:
        """Events keyed by an order get its customer's key when the order is known.

        Best effort: when the database cannot answer in time, the events keep the order key
        rather than the webhook failing.
        """
        orphans = {
            (e.shopid, order_id)
            for e in events
            if e.customerid is None
            and (order_id := _order_id(e)) is not None
            and e.anonymousid == f"{ORDER_PREFIX}{order_id}"
        }
        if not orphans:
            return list(events)
        owners = {key: self._known[key] for key in orphans if key in self._known}
        missing = orphans - owners.keys()
        if missing:
            try:
                async with asyncio.timeout(self._timeout_s):
                    owners.update(await self._load(missing))
            except Exception:
                log.exception("cannot look up order owners; keeping order keys")
        out = []
        for event in events:
            owner = owners.get((event.shopid, _order_id(event) or ""))
            if owner is not None and event.customerid is None:
                event = event.model_copy(update={"customerid": owner, "anonymousid": None})
            out.append(event)
        return out

    def remember(self, events: Sequence[EventEnvelope]) -> None:
        """Note the customer of each order an event names; saved in the background."""
        for e in events:
            order_id = _order_id(e)
            if e.type in _OWNING_TYPES and e.customerid and order_id:
                key = (e.shopid, order_id)
                if self._known.get(key) != e.customerid:
                    self._unsaved[key] = e.customerid
                self._cache(key, e.customerid)
        if self._unsaved and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.create_task(self._flush_soon())

    async def stop(self) -> None:
        """Save what is still unsaved (called at shutdown)."""
        if self._flusher is not None:
            with contextlib.suppress(Exception):
                await self._flusher
        if self._unsaved:
            await self._save()

    def _cache(self, key: OrderKey, customer_id: str) -> None:
        self._known[key] = customer_id
        self._known.move_to_end(key)
        while len(self._known) > _CACHED_OWNERS:
            self._known.popitem(last=False)

    async def _load(self, keys: set[OrderKey]) -> dict[OrderKey, str]:
        found: dict[OrderKey, str] = {}
        async with self._engine.connect() as conn:
            for shop_id in {shop for shop, _ in keys}:
                rows = await conn.execute(
                    select(OrderCustomerRow.order_id, OrderCustomerRow.customer_id)
                    .where(OrderCustomerRow.shop_id == shop_id)
                    .where(OrderCustomerRow.order_id.in_([o for s, o in keys if s == shop_id]))
                )
                for order_id, customer_id in rows:
                    found[shop_id, order_id] = customer_id
                    self._cache((shop_id, order_id), customer_id)
        return found

    async def _flush_soon(self) -> None:
        await asyncio.sleep(_FLUSH_INTERVAL_S)
        try:
            await self._save()
        except Exception:
            log.exception("cannot record order owners; retrying with the next ones")

    async def _save(self) -> None:
        batch, self._unsaved = self._unsaved, {}
        rows = [{"shop_id": s, "order_id": o, "customer_id": c} for (s, o), c in batch.items()]
        try:
            async with asyncio.timeout(10), self._engine.begin() as conn:
                await conn.execute(_UPSERT, rows)
        except BaseException:
            self._unsaved = {**batch, **self._unsaved}  # try again with the next round
            raise


def _upsert() -> Insert:
    """One statement for any number of rows (executemany), so SQLAlchemy compiles it once;
    a VALUES list of each round's length was compiled anew every round."""
    statement = insert(OrderCustomerRow)
    return statement.on_conflict_do_update(
        index_elements=["shop_id", "order_id"],
        set_={"customer_id": statement.excluded.customer_id},
    )


_UPSERT = _upsert()
