"""Re-keying events that name only an order (Shopify refunds and fulfillments) to its customer.

Shopify's refunds/create, fulfillments/create and fulfillment_events/create payloads carry the
order id but no customer, so the adapter keys them `anon:order:<id>`. Ingest remembers the
customer of every order it publishes and moves such events onto the customer's key, where the
stream processors keep that customer's state (a delivery starts the review request there).
Orders placed before the shop joined Nudge stay under the order key.

Recording stays off the request path: owners are kept in memory and written to PostgreSQL by
a background task in one statement per round. A crash can lose the last round's owners; the
events of those orders then keep the order key, as for orders placed before Nudge.

A round PostgreSQL refuses because of some row (shared/db/errors.py: a NUL in an id, which
text cannot hold) is written again in halves, down to that row: the refused rows are dropped
with an error logged and counted, the others are saved. While the database is unavailable the
owners wait for the next round, at most `MAX_UNSAVED` of them: past that the oldest are dropped
(their refunds and fulfillments then keep the order key), so an outage cannot exhaust memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections import OrderedDict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import Insert, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.ingest import metrics
from shared.db import errors as db_errors
from shared.db.tables import OrderCustomerRow
from shared.events import EventEnvelope

log = logging.getLogger(__name__)

ORDER_PREFIX = "order:"
_OWNING_TYPES = frozenset({"order.placed", "order.cancelled"})
_CACHED_OWNERS = 100_000
_FLUSH_INTERVAL_S = 0.2
MAX_UNSAVED = 50_000
"""Owners kept for the next round while the database is unavailable (a few MB at most)."""

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
        self._bound_unsaved()
        if self._unsaved and (self._flusher is None or self._flusher.done()):
            self._flusher = asyncio.create_task(self._flush_soon())

    @property
    def unsaved(self) -> int:
        """Owners remembered and not saved yet."""
        return len(self._unsaved)

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
        # An id with a NUL can never have been saved (text cannot hold it), and asking for it
        # would fail the lookup of the request's other orders.
        keys = {(s, o) for s, o in keys if "\x00" not in s and "\x00" not in o}
        if not keys:
            return found
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
        try:
            async with asyncio.timeout(10), self._engine.begin() as conn:
                await conn.execute(_UPSERT, _rows(batch))
        except Exception as exc:
            if not db_errors.is_permanent(exc):
                self._keep_for_next_round(batch)
                raise
            await self._save_around_refused(batch)
        except BaseException:
            self._keep_for_next_round(batch)
            raise

    async def _save_around_refused(self, batch: dict[OrderKey, str]) -> None:
        """Save the round in halves, each under a savepoint, down to the rows PostgreSQL
        refuses, which are dropped: a few statements per refused row, however long the round."""
        refused: list[tuple[OrderKey, str]] = []
        try:
            async with asyncio.timeout(10), self._engine.begin() as conn:
                await _save_halves(conn, list(batch.items()), refused)
        except BaseException:
            refused_keys = {key for key, _ in refused}
            self._keep_for_next_round({k: c for k, c in batch.items() if k not in refused_keys})
            self._drop_refused(refused)
            raise
        self._drop_refused(refused)

    @staticmethod
    def _drop_refused(refused: list[tuple[OrderKey, str]]) -> None:
        for (shop_id, order_id), why in refused:
            log.error(
                "order owner dropped: PostgreSQL refuses shop %r order %r (%s); the order's "
                "refunds and fulfillments keep the order key",
                shop_id,
                order_id,
                why,
            )
        if refused:
            metrics.ORDER_OWNERS_DROPPED.labels("refused").inc(len(refused))

    def _keep_for_next_round(self, batch: dict[OrderKey, str]) -> None:
        """Put back what a failed round took; what was remembered meanwhile is newer."""
        self._unsaved = {**batch, **self._unsaved}
        self._bound_unsaved()

    def _bound_unsaved(self) -> None:
        """Drop the oldest unsaved owners beyond MAX_UNSAVED (a long database outage)."""
        excess = len(self._unsaved) - MAX_UNSAVED
        if excess <= 0:
            return
        for key in list(itertools.islice(self._unsaved, excess)):
            del self._unsaved[key]
        metrics.ORDER_OWNERS_DROPPED.labels("overflow").inc(excess)
        log.error(
            "order owners dropped: %d not saved yet (the database is unavailable) beyond the "
            "%d kept; their orders' refunds and fulfillments keep the order key",
            excess,
            MAX_UNSAVED,
        )


async def _save_halves(
    conn: AsyncConnection, owners: list[tuple[OrderKey, str]], refused: list[tuple[OrderKey, str]]
) -> None:
    """Save `owners` under a savepoint; when PostgreSQL refuses a row, each half the same way,
    down to single rows, which are added to `refused` with the database's message."""
    try:
        async with conn.begin_nested():
            await conn.execute(_UPSERT, _rows(dict(owners)))
        return
    except Exception as exc:
        if not db_errors.is_permanent(exc):
            raise
        if len(owners) == 1:
            refused.append((owners[0][0], db_errors.describe(exc)))
            return
    middle = len(owners) // 2
    await _save_halves(conn, owners[:middle], refused)
    await _save_halves(conn, owners[middle:], refused)


def _rows(batch: dict[OrderKey, str]) -> list[dict[str, str]]:
    return [{"shop_id": s, "order_id": o, "customer_id": c} for (s, o), c in batch.items()]


def _upsert() -> Insert:
    """One statement for any number of rows (executemany), so SQLAlchemy compiles it once;
    a VALUES list of each round's length was compiled anew every round."""
    statement = insert(OrderCustomerRow)
    return statement.on_conflict_do_update(
        index_elements=["shop_id", "order_id"],
        set_={"customer_id": statement.excluded.customer_id},
    )


_UPSERT = _upsert()
