"""The Faust plumbing every stream worker (triggers, segmenter) shares.

Raw-bytes topics and tables (processors decode records themselves), an outbox that sends
through Faust's producer and waits for every acknowledgement, the write scope that lets a
batch write each key's table entry on the key's own partition, the rule that a batch is never
cut short, and KafkaSettings spelled the way Faust takes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import weakref
from collections.abc import Awaitable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from time import monotonic
from typing import Any, Final, NoReturn, Protocol, cast

import faust
from faust.sensors import Monitor
from faust.streams import _current_event
from faust.types import TP, CollectionT, EventT, Message, ProducerT, RecordMetadata, StreamT, TableT
from faust.types.tuples import PendingMessage
from mode import CrashingSupervisor, Service

from shared.limits import CONSUMER_MAX_PARTITION_FETCH_BYTES, PRODUCER_MAX_REQUEST_BYTES
from shared.settings import KafkaSettings
from shared.state_table import FaustStateTable, changelog_producer
from shared.stream_batch import InputRecord, OutputRecord

log = logging.getLogger(__name__)

STOP_GRACE_S = 30.0
"""How long a stopping worker waits for the batch in progress (its output may be retrying)."""
STATIC_SESSION_TIMEOUT_S = 90.0
"""The group session timeout of a worker with a static instance id: how long the broker keeps
its partitions for it while it restarts (a rolling update: stop, reschedule, start). Faust
refuses one above its request timeout, which is this by default. A worker scaled away for good
leaves its partitions unread this long before the group rebalances."""
RAW_CODECS: Final[dict[str, Any]] = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}
"""Records and table values stay bytes: processors decode them with pydantic / msgspec."""


def raw_topic(app: faust.App, *names: str) -> faust.TopicT:
    return app.topic(*names, **RAW_CODECS)


def raw_table(app: faust.App, name: str, partitions: int) -> TableT[bytes, bytes]:
    # Faust derives the changelog's codecs from the types: bytes means "raw" end to end.
    return app.Table(name, partitions=partitions, key_type=bytes, value_type=bytes)


def state_table(
    app: faust.App, name: str, partitions: int, kafka: KafkaSettings
) -> FaustStateTable:
    """A raw table written a batch at a time (shared/state_table.py), whose changelog
    producer starts and stops with the app."""
    states = FaustStateTable(
        raw_table(app, name, partitions), lambda: changelog_producer(kafka), as_current_event
    )

    class ChangelogWriter(Service):
        async def on_start(self) -> None:
            await states.start()

        async def on_stop(self) -> None:
            await states.stop()

    app.service(ChangelogWriter)
    return states


def input_record(event: EventT[bytes]) -> InputRecord:
    message = event.message
    return InputRecord(
        message.topic,
        message.partition,
        message.offset,
        message.key,
        message.value,
        event,
        message.timestamp,
    )


class FaustOutbox:
    """Sends through the Faust app's producer (which Faust flushes before each commit)."""

    def __init__(self, app: faust.App, topics: Iterable[str], commands_topic: str) -> None:
        self._topics = {name: raw_topic(app, name) for name in {*topics, commands_topic}}
        self._commands = commands_topic

    @property
    def topic_names(self) -> frozenset[str]:
        return frozenset(self._topics)

    async def publish_all(self, records: Sequence[OutputRecord]) -> None:
        """Send them all in order, then wait for every acknowledgement; resend what failed,
        until done.

        The batch being handled must not be marked done before its output is acknowledged.
        Records are handed to the producer one after the other (the producer keeps that order
        per partition: a customer's segment entry precedes its exit), and only then awaited
        together. A resent record may follow records sent after it the first time: every
        record here carries its own deterministic id, and a resend is a broker outage's.
        """
        pending, delay = list(records), 0.1
        while pending:
            outcomes = await asyncio.gather(*await self._enqueue(pending), return_exceptions=True)
            failed = [
                r
                for r, outcome in zip(pending, outcomes, strict=True)
                if isinstance(outcome, Exception)
            ]
            for outcome in outcomes:
                if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                    raise outcome  # cancellation: the caller decides
            if failed:
                first = next(o for o in outcomes if isinstance(o, Exception))
                log.warning(
                    "%d of %d records not acknowledged (%r); resending in %.1fs",
                    len(failed),
                    len(pending),
                    first,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            pending = failed

    async def _enqueue(self, records: Sequence[OutputRecord]) -> list[Awaitable[Any]]:
        """Hand each record to the producer in order; the acknowledgements, to await."""
        acknowledgements: list[Awaitable[Any]] = []
        for record in records:
            try:
                sent = await self._topics[record.topic].send(key=record.key, value=record.value)
            except Exception as exc:  # refused before buffering: counts as not acknowledged
                acknowledgements.append(_failed(exc))
            else:
                acknowledgements.append(sent)
        return acknowledgements

    async def send_command(self, key: bytes, value: bytes) -> None:
        await self._topics[self._commands].send(key=key, value=value)


async def _failed(exc: Exception) -> None:
    raise exc


@contextmanager
def as_current_event(origin: object) -> Iterator[object]:
    """Faust tables pick the changelog partition and the RocksDB shard of a write from the
    stream's current event; a batch writes after its last record, so each key's write runs
    with the key's own record as the current event."""
    token = _current_event.set(weakref.ref(cast("EventT[bytes]", origin)))
    try:
        yield origin
    finally:
        _current_event.reset(token)


async def finish(batch: Awaitable[None]) -> None:
    """Run a batch to its end, even through a stop request, or end the process.

    `take_events` acknowledges a batch's records when the body returns, *also* when it raises,
    and a stopping worker commits what is acknowledged: a batch cut short would be skipped for
    good. So a stop (cancellation) lets the batch finish first (for up to
    `STOP_GRACE_S`), and a failure exits at once, before any acknowledgement: the batch is
    redone after the restart.
    """
    task = asyncio.ensure_future(batch)
    try:
        await asyncio.shield(task)
        return
    except asyncio.CancelledError:
        log.warning("stop requested: finishing the batch in progress first")
    except Exception as exc:
        exit_unacknowledged(exc)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STOP_GRACE_S
    while not task.done() and loop.time() < deadline:
        with contextlib.suppress(asyncio.CancelledError):  # asked again: still finishing
            await asyncio.wait({task}, timeout=deadline - loop.time())
    if not task.done() or task.cancelled() or task.exception() is not None:
        exit_unacknowledged(None if not task.done() or task.cancelled() else task.exception())
    raise asyncio.CancelledError  # finished: now stop, and let the batch be acknowledged


def exit_unacknowledged(exc: BaseException | None) -> NoReturn:
    log.critical("a batch failed; exiting before it is acknowledged", exc_info=exc)
    logging.shutdown()
    os._exit(70)


class WorkerSettings(Protocol):
    """What a stream worker's settings (NUDGE_TRIGGERS_*, NUDGE_SEGMENTER_*) give its app."""

    app_id: str
    store: str
    data_dir: Path
    replication_factor: int
    standby_replicas: int
    producer_linger_s: float
    instance_id: str | None


class LivenessMonitor(Monitor):
    """Faust's Monitor reduced to what Faust's own checks read: when each partition's stream
    last took a record (the consumer logs a partition whose stream stopped). The rest of
    Monitor's per-record, per-send and per-table-write statistics feed Faust's web views,
    which Nudge keeps off (its metrics are Prometheus'), and cost CPU on every record;
    without any Monitor, Faust reports every partition as never processing."""

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        pass

    def on_stream_event_in(
        self, tp: TP, offset: int, stream: StreamT[Any], event: EventT[Any]
    ) -> dict[str, Any] | None:
        self.stream_inbound_time[tp] = monotonic()
        return None

    def on_stream_event_out(
        self, tp: TP, offset: int, stream: StreamT[Any], event: EventT[Any], state: Any = None
    ) -> None:
        pass

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        pass

    def on_table_get(self, table: CollectionT, key: Any) -> None:
        pass

    def on_table_set(self, table: CollectionT, key: Any, value: Any) -> None:
        pass

    def on_table_del(self, table: CollectionT, key: Any) -> None:
        pass

    def on_send_initiated(
        self, producer: ProducerT, topic: str, message: PendingMessage, keysize: int, valsize: int
    ) -> Any:
        return None

    def on_send_completed(self, producer: ProducerT, state: Any, metadata: RecordMetadata) -> None:
        pass


def make_app(settings: WorkerSettings, kafka: KafkaSettings, partitions: int) -> faust.App:
    """A Faust app as every Nudge worker runs it, with the lean `LivenessMonitor`."""
    app = faust.App(
        settings.app_id,
        broker=broker_urls(kafka),
        broker_credentials=credentials(kafka),
        store=settings.store,
        datadir=str(settings.data_dir),
        web_enabled=False,  # its web server would expose the tables; health_http serves probes
        autodiscover=False,
        topic_partitions=partitions,
        topic_replication_factor=settings.replication_factor,
        table_standby_replicas=settings.standby_replicas,
        consumer_auto_offset_reset="earliest",  # `latest`: pinned before joining, if asked
        producer_acks=-1,
        # Lets the producer gather a batch's changelog writes and output records into a few
        # produce requests instead of one or two per record (see the settings' field).
        producer_linger=settings.producer_linger_s,
        # Record sizes from shared/limits.py: Faust's defaults (1,000,000 bytes to send, 1 MiB
        # to fetch) are below what the topics take.
        producer_max_request_size=PRODUCER_MAX_REQUEST_BYTES,
        consumer_max_fetch_size=CONSUMER_MAX_PARTITION_FETCH_BYTES,
        stream_wait_empty=False,
        # A crashed agent would leave a live-looking worker that processes nothing: exit
        # instead, and let the orchestrator restart it (at-least-once, nothing is lost).
        agent_supervisor=CrashingSupervisor,
        Monitor=LivenessMonitor,
        # Static membership: a restarted worker (same pod name) rejoins with the partitions it
        # had, without a rebalance of the whole group, if back within the session timeout.
        consumer_group_instance_id=settings.instance_id,
        broker_session_timeout=STATIC_SESSION_TIMEOUT_S if settings.instance_id else None,
    )

    return app


def broker_urls(kafka: KafkaSettings) -> list[str]:
    return [f"kafka://{server.strip()}" for server in kafka.bootstrap_servers.split(",")]


def credentials(kafka: KafkaSettings) -> faust.SASLCredentials | faust.SSLCredentials | None:
    """Faust's spelling of KafkaSettings' security (its credentials imply the protocol)."""
    context = kafka.ssl_context()
    if not kafka.security_protocol.startswith("SASL"):
        return None if context is None else faust.SSLCredentials(context)
    assert kafka.sasl_password is not None  # KafkaSettings checks SASL completeness
    return faust.SASLCredentials(
        username=kafka.sasl_username,
        password=kafka.sasl_password.get_secret_value(),
        mechanism=kafka.sasl_mechanism,
        ssl_context=context,
    )
