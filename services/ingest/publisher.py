"""Publishing accepted events to `shop.events.v1`, answering only once the broker has them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)

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
        self._retired: set[asyncio.Task[None]] = set()

    @property
    def ready(self) -> bool:
        return self._producer is not None

    async def start(self) -> None:
        """Connect in the background: the HTTP server comes up even while Kafka is down."""
        self._starting = asyncio.create_task(self._connect_forever())

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
            log.info("connected to kafka at %s", self._settings.bootstrap_servers)
            return

    async def stop(self) -> None:
        if self._starting is not None and not self._starting.done():
            self._starting.cancel()
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    @staticmethod
    async def _close(producer: AIOKafkaProducer) -> None:
        try:
            async with asyncio.timeout(10):
                await producer.stop()
        except (TimeoutError, KafkaError):
            log.warning("the replaced kafka producer did not close cleanly")

    async def publish(self, events: Sequence[EventEnvelope]) -> None:
        """Return once every event is acknowledged by the broker, or raise BrokerUnavailable."""
        producer = self._producer
        if producer is None:
            raise BrokerUnavailable("not connected to kafka yet")
        try:
            async with asyncio.timeout(self._timeout_s):
                futures = [
                    await producer.send(self._topic, dump_shop_event(e), key=e.key.encode())
                    for e in events
                ]
                await asyncio.gather(*futures)
        except TimeoutError as exc:
            raise BrokerUnavailable(
                f"kafka did not acknowledge within {self._timeout_s:g}s"
            ) from exc
        except _FATAL_PRODUCER_ERRORS as exc:
            self._replace(producer)
            raise BrokerUnavailable(f"kafka producer reset after: {exc}") from exc
        except KafkaError as exc:
            raise BrokerUnavailable(f"kafka refused the records: {exc}") from exc

    def _replace(self, broken: AIOKafkaProducer) -> None:
        """Swap in a new producer; the broken one is closed in the background."""
        if self._producer is not broken:
            return  # another request already replaced it
        log.warning("replacing the kafka producer after a fatal idempotence error")
        self._producer = None
        closing = asyncio.create_task(self._close(broken))
        self._retired.add(closing)
        closing.add_done_callback(self._retired.discard)
        self._starting = asyncio.create_task(self._connect_forever())
