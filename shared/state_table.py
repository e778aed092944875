"""A stream worker's state table, written a batch at a time: the port and its two adapters.

A processor reads a key's state while it decides and writes each changed key once, after the
batch's output is acknowledged (see shared/stream_batch.py). `FaustStateTable` keeps the
state in a Faust table (RocksDB or memory, recovered from its changelog topic by Faust as
usual) but makes the batch's writes itself: one changelog request per partition through the
aiokafka producer's batch API, awaited, then the local store. Faust's own `table[key] = value`
sends each write as a message of its own through its producer buffer, with a callback per
write that records the offset in RocksDB, which costs several times the write itself
(`make bench` shows both beside the Faust floor). The changelog records are the ones Faust
writes (same topic, partition, raw key and value), so Faust's recovery and standby replicas
read them as their own. `MemoryStateTable` is the adapter for unit tests and in-process tools.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator, MutableMapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from faust.types import TP, TableT

from shared.limits import PRODUCER_MAX_REQUEST_BYTES
from shared.settings import KafkaSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Change:
    """A key's new state (None: removed), on the input partition of the record that changed
    it (its changelog partition), with that record's runtime handle."""

    key: bytes
    value: bytes | None
    partition: int
    origin: object = None


class StateTable(Protocol):
    """What a processor needs of its table."""

    def get(self, key: bytes, origin: object) -> bytes | None:
        """The stored state of `key` (read on the partition of the record `origin`)."""
        ...

    def items(self) -> Iterable[tuple[bytes, bytes]]:
        """Every stored key and state of this worker's partitions (for rebuilding indexes)."""
        ...

    async def write_all(self, changes: Sequence[Change]) -> None:
        """Store every change (one per key); return once they are durable."""
        ...


class MemoryStateTable:
    """A dict as the table (unit tests, in-process benchmarks); `data` is the dict itself."""

    def __init__(self, data: MutableMapping[bytes, bytes] | None = None) -> None:
        self.data: MutableMapping[bytes, bytes] = {} if data is None else data

    def get(self, key: bytes, origin: object) -> bytes | None:
        return self.data.get(key)

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(list(self.data.items()))

    async def write_all(self, changes: Sequence[Change]) -> None:
        for change in changes:
            if change.value is None:
                self.data.pop(change.key, None)
            else:
                self.data[change.key] = change.value


def changelog_producer(kafka: KafkaSettings) -> AIOKafkaProducer:
    """The producer of a worker's changelog writes: every replica acknowledges, no duplicate
    from a retry, and a batch as large as the largest record a request may carry."""
    return AIOKafkaProducer(
        **kafka.client_options(),
        acks="all",
        enable_idempotence=True,
        max_batch_size=PRODUCER_MAX_REQUEST_BYTES,
        max_request_size=PRODUCER_MAX_REQUEST_BYTES,
    )


Scope = Callable[[object], AbstractContextManager[object]]


class FaustStateTable:
    """A Faust table whose batch writes go to the changelog together (see the module's doc).

    Order within `write_all`: the changelog batches are sent and acknowledged first, then the
    local store is written, then the store's persisted offset (where Faust resumes recovery
    from its changelog) moves past them. A crash before the end leaves the persisted offset
    behind the acknowledged records, so recovery reads them again: nothing is lost. `scope`
    makes a record Faust's current event, which picks the store's partition database.
    """

    def __init__(
        self,
        table: TableT[bytes, bytes],
        producer: Callable[[], AIOKafkaProducer],
        scope: Scope,
    ) -> None:
        self._table = table
        self._new_producer = producer
        """Made in `start`: aiokafka builds its clients inside the running event loop."""
        self._producer: AIOKafkaProducer | None = None
        self._scope = scope
        self._started: asyncio.Task[None] | None = None
        self._writing = asyncio.Lock()

    @property
    def table(self) -> TableT[bytes, bytes]:
        return self._table

    @property
    def changelog(self) -> str:
        return self._table.changelog_topic.get_topic_name()

    def get(self, key: bytes, origin: object) -> bytes | None:
        with self._scope(origin):  # Faust reads the record's partition's database only
            return self._table.get(key)

    def items(self) -> Iterable[tuple[bytes, bytes]]:
        return self._table.items()

    async def start(self) -> None:
        """Start the producer (once; the first write waits for it)."""
        if self._started is None:
            self._producer = self._new_producer()
            self._started = asyncio.ensure_future(self._producer.start())
        await asyncio.shield(self._started)

    async def stop(self) -> None:
        """Stop the producer once the write in progress, if any, is done."""
        async with self._writing:
            if self._producer is not None:
                await self._producer.stop()
                self._producer, self._started = None, None

    async def write_all(self, changes: Sequence[Change]) -> None:
        if not changes:
            return
        async with self._writing:
            await self.start()
            await self._write(changes)

    async def _write(self, changes: Sequence[Change]) -> None:
        by_partition: dict[int, list[Change]] = {}
        for change in changes:
            by_partition.setdefault(change.partition, []).append(change)
        last = await self._send_until_acknowledged(by_partition)
        store: Any = self._table.data
        for change in changes:
            with self._scope(change.origin):
                if change.value is not None:
                    store[change.key] = change.value
                elif change.key in store:
                    del store[change.key]
        for partition, offset in last.items():
            store.set_persisted_offset(TP(self.changelog, partition), offset)

    async def _send_until_acknowledged(
        self, by_partition: dict[int, list[Change]]
    ) -> dict[int, int]:
        """Each partition's changes until acknowledged (a partition that failed is sent again:
        a changelog record twice is the same state twice); the last offset of each."""
        pending, last, delay = dict(by_partition), {}, 0.1
        while pending:
            sent = [(p, asyncio.ensure_future(self._send(p, part))) for p, part in pending.items()]
            await asyncio.wait([future for _, future in sent])
            failed: dict[int, list[Change]] = {}
            for partition, future in sent:
                problem = future.exception()
                if problem is None:
                    last[partition] = future.result()
                elif isinstance(problem, KafkaError | OSError | asyncio.TimeoutError):
                    failed[partition] = pending[partition]
                    log.warning(
                        "changelog write to %s[%d] failed (%r); resending in %.1fs",
                        self.changelog,
                        partition,
                        problem,
                        delay,
                    )
                else:
                    raise problem
            if failed:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            pending = failed
        return last

    async def _send(self, partition: int, changes: Sequence[Change]) -> int:
        """One partition's changes in as few batches as fit a request; the last offset."""
        topic, producer = self.changelog, self._producer
        assert producer is not None  # started by write_all
        futures: list[tuple[int, asyncio.Future[Any]]] = []
        batch, count = producer.create_batch(), 0
        for change in changes:
            if batch.append(key=change.key, value=change.value, timestamp=None) is None:
                if count == 0:
                    raise ValueError(f"state of {change.key!r} is larger than a request")
                futures.append(
                    (count, await producer.send_batch(batch, topic, partition=partition))
                )
                batch, count = producer.create_batch(), 0
                if batch.append(key=change.key, value=change.value, timestamp=None) is None:
                    raise ValueError(f"state of {change.key!r} is larger than a request")
            count += 1
        futures.append((count, await producer.send_batch(batch, topic, partition=partition)))
        last = -1
        for count, future in futures:
            metadata = await future
            last = max(last, metadata.offset + count - 1)
        return last
