"""Records the broker did not acknowledge in time, kept in PostgreSQL until it does.

The sender publishes its status records and dead letters, and waits (boundedly) for the
broker, before it commits the outcome they describe. Whatever is still unacknowledged then is
written in that same transaction, so a broker outage longer than the wait loses nothing: the
relay republishes the kept records, oldest first, and deletes each once the broker has it.
While the broker answers, the outbox stays empty and costs nothing.

A record may reach its topic twice (acknowledged late, then relayed): both copies carry the
same event id, and readers drop the repeat by id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.dispatch import metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outbound:
    """A record for the broker, as the outbox keeps it."""

    topic: str
    key: bytes
    value: bytes


Send = Callable[[Outbound], Awaitable[Awaitable[object]]]
"""Hands a record to the producer; the result resolves when the broker acknowledges it."""


async def deliver(send: Send, records: Sequence[Outbound], timeout_s: float) -> list[bool]:
    """Publish `records` and wait at most `timeout_s`; which ones the broker acknowledged."""
    deliveries: list[asyncio.Future[object] | None] = []
    for record in records:
        try:
            deliveries.append(asyncio.ensure_future(await send(record)))
        except Exception as exc:  # the producer refused it outright (stopped, too large)
            log.warning("cannot publish to %s: %r", record.topic, exc)
            deliveries.append(None)
    waiting = [d for d in deliveries if d is not None]
    if waiting:
        _, late = await asyncio.wait(waiting, timeout=timeout_s)
        for delivery in late:
            delivery.add_done_callback(_consume_failure)
    return [
        d is not None and d.done() and not d.cancelled() and d.exception() is None
        for d in deliveries
    ]


def _consume_failure(delivery: asyncio.Future[object]) -> None:
    if not delivery.cancelled():
        delivery.exception()  # retrieved: the record is in the outbox already


_KEEP = text("INSERT INTO dispatch_outbox (topic, key, value) VALUES (:topic, :key, :value)")


async def keep(conn: AsyncConnection, records: Sequence[Outbound]) -> None:
    """Write `records` in the caller's transaction, for the relay to publish."""
    if not records:
        return
    await conn.execute(_KEEP, [{"topic": r.topic, "key": r.key, "value": r.value} for r in records])
    metrics.OUTBOX.labels("kept").inc(len(records))
    log.warning("%d records unacknowledged by the broker kept in the outbox", len(records))


_OLDEST = text(
    "SELECT id, topic, key, value FROM dispatch_outbox ORDER BY id LIMIT :limit "
    "FOR UPDATE SKIP LOCKED"
)
_DELETE = text("DELETE FROM dispatch_outbox WHERE id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)


@dataclass
class Relay:
    """Republishes kept records; several dispatch processes share the work (SKIP LOCKED)."""

    engine: AsyncEngine
    send: Send
    ack_timeout_s: float
    batch: int = 500

    async def run_once(self) -> int:
        """Relay one batch; return how many records the broker acknowledged (0: idle)."""
        async with self.engine.begin() as conn:
            rows = (await conn.execute(_OLDEST, {"limit": self.batch})).all()
            if not rows:
                return 0
            records = [Outbound(r.topic, bytes(r.key), bytes(r.value)) for r in rows]
            acked = await deliver(self.send, records, self.ack_timeout_s)
            done = [row.id for row, ok in zip(rows, acked, strict=True) if ok]
            if done:
                await conn.execute(_DELETE, {"ids": done})
        metrics.OUTBOX.labels("relayed").inc(len(done))
        return len(done)
