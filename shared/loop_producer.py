"""A librdkafka producer (confluent-kafka) whose delivery reports are served by the event loop.

Why librdkafka: batching, compression, retries and the idempotent sequence bookkeeping run in
its C threads, outside the interpreter. In `make bench` that took a tenth off ingest's CPU per
batched event and a quarter off a webhook's, against aiokafka's pure-Python producer.

Why from the event loop: `poll(0)` runs on a short timer while records are on their way (and
on a long one otherwise, for error reports and logs), never in a second Python thread, so the
delivery callbacks do not fight the hot path for the GIL and can resolve asyncio futures
directly.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from shared.limits import PRODUCER_MAX_REQUEST_BYTES
from shared.settings import KafkaSettings

log = logging.getLogger(__name__)

BUSY_POLL_S = 0.002
"""How often delivery reports are collected while records are on their way."""
IDLE_POLL_S = 1.0
"""How often otherwise: librdkafka's error reports and logs are also served by polling."""
CLOSE_TIMEOUT_S = 10.0

OnDelivery = Callable[[KafkaError | None, Message], None]


class ProducerStopped(RuntimeError):
    """`produce` was called before `start` or after `stop`."""


def producer_config(
    settings: KafkaSettings, *, client_id: str, linger_ms: int, timeout_s: float
) -> dict[str, Any]:
    """acks=all with idempotence: no acknowledged record is lost, no retried batch is doubled.

    Records are placed by the Java client's partitioner (murmur2 of the key), so a customer's
    records share a partition with whatever the other services produce for that customer.
    A record not delivered within `timeout_s` expires with an error: by then its caller has
    given up waiting and answered for it (a 503, or a record kept in an outbox).
    `message.max.bytes` comes from shared/limits.py: any record a topic takes can be sent
    (librdkafka's default, 1,000,000 bytes, refused records ingest had accepted).
    """
    return {
        **settings.librdkafka_options(),
        "client.id": client_id,
        "enable.idempotence": True,
        "acks": "all",
        "partitioner": "murmur2_random",
        "linger.ms": linger_ms,
        "message.max.bytes": PRODUCER_MAX_REQUEST_BYTES,
        "message.timeout.ms": max(1, int(timeout_s * 1000)),
        "logger": logging.getLogger("librdkafka"),
    }


def resolve(future: asyncio.Future[None]) -> OnDelivery:
    """A delivery callback that settles `future` (it runs in the loop, from `poll`)."""

    def report(error: KafkaError | None, _record: Message) -> None:
        if future.done():
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(KafkaException(error))

    return report


class LoopProducer:
    """An idempotent, acks=all producer that keeps reconnecting by itself, and replaces itself
    (with a new producer id) after a fatal error."""

    def __init__(
        self,
        settings: KafkaSettings,
        *,
        client_id: str,
        timeout_s: float,
        linger_ms: int,
        probe_topic: str,
    ) -> None:
        self._settings = settings
        self._client_id = client_id
        self._timeout_s = timeout_s
        self._linger_ms = linger_ms
        self._probe_topic = probe_topic
        self._producer: Producer | None = None
        self._generation = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connected = False
        self._connecting: asyncio.Task[None] | None = None
        self._poll_timer: asyncio.TimerHandle | None = None
        self._closing: set[asyncio.Task[None]] = set()

    @property
    def ready(self) -> bool:
        """The broker has answered once."""
        return self._connected

    async def start(self) -> None:
        """Create the producer and confirm the broker answers, waiting at most `timeout_s`:
        the service comes up even while Kafka is down, and the confirmation goes on in the
        background."""
        self._loop = asyncio.get_running_loop()
        self._producer = self._new_producer()
        self._schedule_poll(IDLE_POLL_S)
        self._connecting = asyncio.create_task(self._confirm_connection())
        await asyncio.wait({self._connecting}, timeout=self._timeout_s)

    async def stop(self) -> None:
        """Deliver what is still queued (bounded), then close."""
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        if self._poll_timer is not None:
            self._poll_timer.cancel()
            self._poll_timer = None
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await self._close(producer)
        await asyncio.gather(*self._closing)

    def produce(
        self, topic: str, value: bytes, key: str | bytes | None, on_delivery: OnDelivery
    ) -> None:
        """Queue one record; `on_delivery` runs in the loop once the broker has answered.
        Raises ProducerStopped, or BufferError when librdkafka's queue is full (the broker is
        not keeping up)."""
        producer = self._producer
        if producer is None:
            raise ProducerStopped("the kafka producer is not running")
        producer.produce(topic, value, key, on_delivery=on_delivery)
        self._schedule_poll(BUSY_POLL_S)

    def delivery(self, topic: str, value: bytes, key: str | bytes | None) -> asyncio.Future[None]:
        """Queue one record; the future resolves when the broker acknowledges it, or fails
        with the KafkaException that refused or expired it."""
        future = asyncio.get_running_loop().create_future()
        self.produce(topic, value, key, resolve(future))
        return future

    def _new_producer(self) -> Producer:
        self._generation += 1
        config = producer_config(
            self._settings,
            client_id=self._client_id,
            linger_ms=self._linger_ms,
            timeout_s=self._timeout_s,
        )
        return Producer(config, error_cb=functools.partial(self._on_error, self._generation))

    async def _confirm_connection(self) -> None:
        delay = 0.5
        while True:
            producer = self._producer
            assert producer is not None
            try:
                await asyncio.to_thread(producer.list_topics, self._probe_topic, self._timeout_s)
            except KafkaException as exc:
                log.warning("kafka not reachable yet (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            self._connected = True
            log.info("connected to kafka at %s", self._settings.bootstrap_servers)
            return

    @staticmethod
    async def _close(producer: Producer) -> None:
        """Deliver what is still queued (bounded), polling here so that every delivery report
        runs in the loop; what is left after that fails now."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLOSE_TIMEOUT_S
        while len(producer) and loop.time() < deadline:
            producer.poll(0)
            await asyncio.sleep(0.01)
        if len(producer):
            log.warning("%d kafka records were not delivered before closing", len(producer))
            producer.purge()
            producer.poll(0)
        await asyncio.to_thread(producer.close)

    def _schedule_poll(self, delay_s: float) -> None:
        """Make sure delivery reports are collected within `delay_s`."""
        timer = self._poll_timer
        loop = self._loop
        assert loop is not None
        if timer is not None:
            if timer.when() <= loop.time() + delay_s:
                return
            timer.cancel()
        self._poll_timer = loop.call_later(delay_s, self._poll)

    def _poll(self) -> None:
        self._poll_timer = None
        producer = self._producer
        if producer is None:
            return
        producer.poll(0)  # runs the delivery reports' callbacks, here, in the loop
        # len(): records queued or in flight, and reports not yet served
        self._schedule_poll(BUSY_POLL_S if len(producer) else IDLE_POLL_S)

    def _on_error(self, generation: int, error: KafkaError) -> None:
        """librdkafka's error reports. Connection trouble it recovers from by itself; a fatal
        error leaves the idempotent producer unusable, so a fresh one (with a new producer
        id) takes its place, once poll has returned."""
        if not error.fatal():
            # librdkafka's own log (the `librdkafka` logger) has the details of each failure
            level = (
                logging.WARNING if error.code() == KafkaError._ALL_BROKERS_DOWN else logging.DEBUG
            )
            log.log(level, "kafka: %s", error.str())
            return
        log.error("kafka producer failed for good (%s); replacing it", error.str())
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._replace, generation)

    def _replace(self, generation: int) -> None:
        broken = self._producer
        if broken is None or generation != self._generation:
            return  # stopped, or already replaced
        self._producer = self._new_producer()
        closing = asyncio.create_task(self._close(broken))
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)
