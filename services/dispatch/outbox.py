"""Records the broker did not acknowledge in time, kept in PostgreSQL until it does.

The sender publishes its status records and dead letters, and waits (boundedly) for the
broker, before it commits the outcome they describe. Whatever is still unacknowledged then is
written in that same unit of work (ports.py), so a broker outage longer than the wait loses
nothing: the relay republishes the kept records, oldest first, and deletes each once the broker
has it. While the broker answers, the outbox stays empty and costs nothing.

A record may reach its topic twice (acknowledged late, then relayed): both copies carry the
same event id, and readers drop the repeat by id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.dispatch import metrics

if TYPE_CHECKING:
    from services.dispatch.ports import Outbox, Store

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


async def keep(outbox: Outbox, records: Sequence[Outbound]) -> None:
    """Write `records` in the outbox's transaction, for the relay to publish."""
    if not records:
        return
    await outbox.keep(records)
    metrics.OUTBOX.labels("kept").inc(len(records))
    log.warning("%d records unacknowledged by the broker kept in the outbox", len(records))


@dataclass
class Relay:
    """Republishes kept records; several dispatch processes share the work (each transaction
    holds the records it took)."""

    store: Store
    send: Send
    ack_timeout_s: float
    batch: int = 500

    async def run_once(self) -> int:
        """Relay one batch; return how many records the broker acknowledged (0: idle)."""
        async with self.store.transaction() as tx:
            kept = await tx.outbox.oldest(self.batch)
            if not kept:
                return 0
            acked = await deliver(self.send, [k.record for k in kept], self.ack_timeout_s)
            done = [k.id for k, ok in zip(kept, acked, strict=True) if ok]
            await tx.outbox.remove(done)
        metrics.OUTBOX.labels("relayed").inc(len(done))
        return len(done)
