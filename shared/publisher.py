"""Publishing a request's records to one topic, answering only once the broker has them.

Ingest publishes accepted events to `shop.events.v1`, the feedback service what customers send
back to `feedback.events.v1`; both answer 2xx only after this returns. The producer is
librdkafka, served from the event loop (shared/loop_producer.py); each request's delivery
reports resolve its future directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from confluent_kafka import KafkaError, KafkaException, Message

from shared.events import EventEnvelope, dump_shop_event
from shared.loop_producer import LoopProducer, ProducerStopped
from shared.settings import KafkaSettings


class BrokerUnavailable(Exception):
    """The broker did not acknowledge in time; nothing can be promised to the caller."""


class RecordRefused(Exception):
    """The producer refused a record outright (its size, say): retrying cannot help.

    Intake checks sizes first (shared/limits.py), so this means the limits disagree."""


class _Acknowledgements:
    """One request's delivery reports: its future resolves when the last record is
    acknowledged, or fails at the first record the broker refused."""

    __slots__ = ("future", "waiting")

    def __init__(self, future: asyncio.Future[None], records: int) -> None:
        self.future = future
        self.waiting = records

    def __call__(self, error: KafkaError | None, _record: Message) -> None:
        if self.future.done():
            return
        if error is not None:
            self.future.set_exception(KafkaException(error))
            return
        self.waiting -= 1
        if not self.waiting:
            self.future.set_result(None)


class EventPublisher:
    """An idempotent, acks=all producer with a bounded wait per request.

    When the broker is away, `publish` gives up after `timeout_s` instead of hanging; the
    producer keeps reconnecting on its own, so service resumes as soon as the broker is back.
    A timed-out batch may still reach the topic later: the caller answered 503, the shop
    retries with the same ids, and consumers drop the duplicate.
    """

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        topic: str,
        client_id: str,
        timeout_s: float,
        linger_ms: int,
    ) -> None:
        self._timeout_s = timeout_s
        self._topic = topic
        self.producer = LoopProducer(
            settings,
            client_id=client_id,
            timeout_s=timeout_s,  # an expired record's request has been answered 503 by then
            linger_ms=linger_ms,
            probe_topic=self._topic,
        )

    @property
    def ready(self) -> bool:
        """The broker has answered once (during an outage requests get 503, not a dead pod)."""
        return self.producer.ready

    async def start(self) -> None:
        await self.producer.start()

    async def stop(self) -> None:
        await self.producer.stop()

    async def publish(self, events: Sequence[EventEnvelope], *, topic: str | None = None) -> None:
        """`publish_records` for events not encoded yet."""
        records = [(event.key, dump_shop_event(event)) for event in events]
        await self.publish_records(records, topic=topic)

    async def publish_records(
        self, records: Sequence[tuple[str, bytes]], *, topic: str | None = None
    ) -> None:
        """Return once every (key, value) is acknowledged by the broker, or raise
        BrokerUnavailable; RecordRefused when the producer refuses a record outright.

        Any refused or unacknowledged record fails the whole request. `topic`: another topic
        than the publisher's own (the feedback service also writes `messages.status.v1`).
        """
        if not records:
            return
        acknowledgements = _Acknowledgements(
            asyncio.get_running_loop().create_future(), len(records)
        )
        produce, topic = self.producer.produce, topic or self._topic
        try:
            for key, value in records:
                produce(topic, value, key, acknowledgements)
        except KafkaException as exc:  # e.g. a record over message.max.bytes
            acknowledgements.future.cancel()
            raise RecordRefused(exc.args[0].str()) from exc
        except ProducerStopped as exc:
            acknowledgements.future.cancel()
            raise BrokerUnavailable(str(exc)) from exc
        except BufferError as exc:  # librdkafka's queue is full: the broker is not keeping up
            acknowledgements.future.cancel()
            raise BrokerUnavailable("too many records are waiting for kafka") from exc
        try:
            async with asyncio.timeout(self._timeout_s):
                await acknowledgements.future
        except TimeoutError as exc:
            raise BrokerUnavailable(
                f"kafka did not acknowledge within {self._timeout_s:g}s"
            ) from exc
        except KafkaException as exc:
            error: KafkaError = exc.args[0]
            raise BrokerUnavailable(f"kafka did not take the records: {error.str()}") from exc
