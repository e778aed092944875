"""Publishing accepted events to `shop.events.v1`, answering only once the broker has them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)

from services.ingest.partitioning import partition_for
from shared.events import EventEnvelope, dump_shop_event
from shared.kafka import make_producer
from shared.settings import KafkaSettings
from shared.topics import SHOP_EVENTS

log = logging.getLogger(__name__)

# After these the idempotent producer's sequence state no longer matches the broker's (typical
# after an outage in which batches expired). The Java client bumps its epoch; aiokafka stays
# stuck, so the producer is replaced by a fresh one with a new producer id.
_FATAL_PRODUCER_ERRORS = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    ProducerFenced,
)


_CACHED_PARTITIONS = 65_536
"""Keys whose partition is remembered: a shop's active customers send again and again."""


def _retrieve(future: asyncio.Future[object]) -> None:
    """Mark a record's failure as seen once the request no longer waits for it."""
    if not future.cancelled():
        future.exception()


class BrokerUnavailable(Exception):
    """The broker did not acknowledge in time; nothing can be promised to the caller."""


class EventPublisher:
    """An idempotent, acks=all producer with a bounded wait per request.

    When the broker is away, `publish` gives up after `timeout_s` instead of hanging; the
    producer keeps reconnecting on its own, so service resumes as soon as the broker is back.
    A timed-out batch may still reach the topic later: the caller answered 503, the shop
    retries with the same ids, and consumers drop the duplicate.
    """

    def __init__(
        self, settings: KafkaSettings, *, timeout_s: float, linger_ms: int, topic: str = ""
    ) -> None:
        self._settings = settings
        self._timeout_s = timeout_s
        self._linger_ms = linger_ms
        self._topic = topic or SHOP_EVENTS.name
        self._producer: AIOKafkaProducer | None = None
        self._starting: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._retired: set[asyncio.Task[None]] = set()
        self._partitions: tuple[int, ...] = ()
        self._partition_of: dict[bytes, int] = {}

    @property
    def ready(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        """Connect, waiting at most one publish timeout: then the HTTP server comes up even
        while Kafka is down, and the producer keeps connecting in the background."""
        self._starting = asyncio.create_task(self._connect_forever())
        await asyncio.wait({self._starting}, timeout=self._timeout_s)

    async def _connect_forever(self) -> None:
        delay = 0.5
        while True:
            producer = make_producer(
                self._settings,
                linger_ms=self._linger_ms,
                request_timeout_ms=int(self._timeout_s * 1000),
                max_batch_size=256 * 1024,
                client_id="nudge-ingest",
            )
            try:
                await producer.start()
            except (KafkaError, OSError) as exc:
                log.warning("kafka not reachable yet (%s); retrying in %.1fs", exc, delay)
                await producer.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            self._producer = producer
            self._connected.set()
            log.info("connected to kafka at %s", self._settings.bootstrap_servers)
            return

    async def stop(self) -> None:
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None
            self._connected.clear()

    @staticmethod
    async def _close(producer: AIOKafkaProducer) -> None:
        try:
            async with asyncio.timeout(10):
                await producer.stop()
        except (TimeoutError, KafkaError):
            log.warning("the replaced kafka producer did not close cleanly")

    async def publish(self, events: Sequence[EventEnvelope]) -> None:
        """Return once every event is acknowledged by the broker, or raise BrokerUnavailable.

        Records are handed over one by one (they join whatever batch is filling for their
        partition, shared with concurrent requests), then awaited in order: the records of
        one batch are acknowledged together, so after the first wait the rest are mostly
        done already. Any failed record fails the whole request.
        """
        futures: list[asyncio.Future[object]] = []
        producer = self._producer
        try:
            async with asyncio.timeout(self._timeout_s):
                if producer is None:  # starting, or being replaced: worth a bounded wait
                    await self._connected.wait()
                    producer = self._producer
                    assert producer is not None
                partition = self._partitioner(await producer.partitions_for(self._topic))
                send, topic = producer.send, self._topic
                for event in events:
                    key = event.key.encode()
                    futures.append(
                        await send(topic, dump_shop_event(event), key=key, partition=partition(key))
                    )
                for future in futures:
                    await future
        except TimeoutError as exc:
            self._abandon(futures)
            if producer is None:
                raise BrokerUnavailable("not connected to kafka yet") from exc
            raise BrokerUnavailable(
                f"kafka did not acknowledge within {self._timeout_s:g}s"
            ) from exc
        except _FATAL_PRODUCER_ERRORS as exc:
            self._abandon(futures)
            self._replace(producer)
            raise BrokerUnavailable(f"kafka producer reset after: {exc}") from exc
        except KafkaError as exc:
            self._abandon(futures)
            raise BrokerUnavailable(f"kafka refused the records: {exc}") from exc

    def _partitioner(self, partitions: set[int]) -> Callable[[bytes], int]:
        """Key -> partition as Kafka's default partitioner, remembered for recent keys."""
        if len(partitions) != len(self._partitions):
            self._partitions = tuple(sorted(partitions))
            self._partition_of = {}
        elif len(self._partition_of) > _CACHED_PARTITIONS:
            self._partition_of = {}
        known, ordered = self._partition_of, self._partitions

        def partition(key: bytes) -> int:
            found = known.get(key)
            if found is None:
                found = known[key] = partition_for(key, ordered)
            return found

        return partition

    @staticmethod
    def _abandon(futures: list[asyncio.Future[object]]) -> None:
        for future in futures:
            if future.done():
                _retrieve(future)
            else:
                future.add_done_callback(_retrieve)

    def _replace(self, broken: AIOKafkaProducer) -> None:
        """Swap in a new producer; the broken one is closed in the background."""
        if self._producer is not broken:
            return  # another request already replaced it
        log.warning("replacing the kafka producer after a fatal idempotence error")
        self._producer = None
        self._connected.clear()
        closing = asyncio.create_task(self._close(broken))
        self._retired.add(closing)
        closing.add_done_callback(self._retired.discard)
        self._starting = asyncio.create_task(self._connect_forever())
