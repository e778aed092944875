"""One poll of a consumer group, taken as a whole: stored or parked, or read again.

Every consumer that writes what it reads follows the same rule (README, "Nothing poisons a
batch"): the handler stores each record of the poll or parks it on its topic's dead-letter
topic, and returns once all of that is acknowledged; only then are the poll's offsets committed,
and only for the partitions still assigned (a partition revoked meanwhile is read again by its
new owner from the committed offset: every write is idempotent). When the handler raises, the
consumer is moved back to the poll's first offsets, so the next poll reads it again: nothing is
skipped, whatever failed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from shared.db import errors as db_errors

Record: TypeAlias = ConsumerRecord[bytes, bytes]
Handler = Callable[[Sequence[Record]], Awaitable[None]]


class PollGivenBack(Exception):
    """A poll could not be stored for a reason that is not its records' (the database or the
    broker unavailable): the consumer was moved back to its first offsets, to read it again."""

    def __init__(self, cause: Exception, records: int) -> None:
        self.transient = db_errors.is_transient(cause)
        """The database was unavailable (an expected outage, not a bug to look into)."""
        if self.transient:
            why = f"the database is unavailable: {db_errors.describe(cause)}"
        else:
            why = f"{type(cause).__name__}: {cause}"
        super().__init__(f"a poll of {records} records will be read again ({why})")


async def consume_once(
    consumer: AIOKafkaConsumer,
    handle: Handler,
    *,
    timeout_ms: int = 500,
    max_records: int = 1000,
    given_back: Callable[[], None] = lambda: None,
) -> int:
    """Read one poll and hand it to `handle`; commit its offsets once `handle` returned, or
    give the poll back (`given_back` is told) and raise PollGivenBack. Returns how many."""
    batches = await consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
    records = [record for batch in batches.values() for record in batch]
    if not records:
        return 0
    try:
        await handle(records)
    except BaseException as exc:
        give_back(consumer, batches)
        given_back()
        if isinstance(exc, Exception):
            raise PollGivenBack(exc, len(records)) from exc
        raise
    assigned = consumer.assignment()
    done = {tp: batch[-1].offset + 1 for tp, batch in batches.items() if tp in assigned}
    if done:
        await consumer.commit(done)
    return len(records)


def give_back(consumer: AIOKafkaConsumer, batches: dict[TopicPartition, list[Record]]) -> None:
    """Move the consumer back to the poll's first offsets, so that the next poll reads it again
    (a partition revoked meanwhile is read from its committed offset by its owner)."""
    assigned = consumer.assignment()
    for tp, batch in batches.items():
        if tp in assigned:
            consumer.seek(tp, batch[0].offset)
