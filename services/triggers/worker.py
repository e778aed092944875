"""The Faust application: topics, changelogged tables, the agent and the timer tick.

One agent reads the shop, feedback and segment topics and the service's own commands topic,
with concurrency 1: processing has side effects, and with more than one in-flight message a
commit can pass one that is not done yet (faust-streaming issue 606). All four topics have the
same partition count and key, so a customer's events, due timers and hand-overs arrive on one
partition, in order, and the table shard of that partition holds the customer's state.

The durable timers are the `timers` table (customer key -> next due time), changelogged like
the state; the in-memory `TimerIndex` is rebuilt from it whenever partitions are (re)assigned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import weakref
from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NoReturn, cast

import faust
from aiohttp import web
from faust.streams import _current_event
from faust.types import EventT, TableT
from mode import CrashingSupervisor

from services.triggers.broker_setup import changelog_topics, input_partitions
from services.triggers.campaigns import CampaignCatalog
from services.triggers.processor import InputRecord, OutputRecord, Processor
from services.triggers.settings import TriggersSettings
from services.triggers.timer_index import TimerIndex
from shared.clock import Clock, make_clock
from shared.health_http import health_app, start_site
from shared.kafka import create_topics, pin_new_group_to_end
from shared.limits import CONSUMER_MAX_PARTITION_FETCH_BYTES, PRODUCER_MAX_REQUEST_BYTES
from shared.settings import KafkaSettings
from shared.topics import (
    FEEDBACK_EVENTS,
    SEGMENTS_CHANGES,
    SHOP_EVENTS,
    TRIGGERS_COMMANDS,
    TRIGGERS_FIRED,
    dead_letter_topic,
)

log = logging.getLogger(__name__)

INPUT_TOPICS = (SHOP_EVENTS, FEEDBACK_EVENTS, SEGMENTS_CHANGES, TRIGGERS_COMMANDS)
OUTPUT_TOPICS = (
    TRIGGERS_FIRED.name,
    TRIGGERS_COMMANDS.name,
    *(dead_letter_topic(spec.name).name for spec in INPUT_TOPICS),
)
"""Where the processor sends: its triggers, its commands, and the dead-letter topic of each
input (a record is parked on the dead-letter topic of the topic it came from)."""
TABLES = ("journeys", "timers")
STOP_GRACE_S = 30.0
"""How long a stopping worker waits for the batch in progress (its output may be retrying)."""
_RAW_CODECS = {
    "key_type": bytes,
    "value_type": bytes,
    "key_serializer": "raw",
    "value_serializer": "raw",
}
"""Records and table values stay bytes: the processor decodes them with pydantic / orjson."""


def _raw_topic(app: faust.App, *names: str) -> faust.TopicT:
    return app.topic(*names, **_RAW_CODECS)  # type: ignore[arg-type]


def _raw_table(app: faust.App, name: str, partitions: int) -> TableT[bytes, bytes]:
    # Faust derives the changelog's codecs from the types: bytes means "raw" end to end.
    return app.Table(name, partitions=partitions, key_type=bytes, value_type=bytes)


class FaustOutbox:
    """Sends through the Faust app's producer (which Faust flushes before each commit)."""

    def __init__(self, app: faust.App) -> None:
        self._topics = {name: _raw_topic(app, name) for name in OUTPUT_TOPICS}

    @property
    def topic_names(self) -> frozenset[str]:
        return frozenset(self._topics)

    async def publish_all(self, records: Sequence[OutputRecord]) -> None:
        """Send them all, then wait for every acknowledgement; resend what failed, until done.

        The batch being handled must not be marked done before its output is acknowledged.
        A resent record may follow records sent after it the first time: every record here
        carries its own deterministic id, so consumers do not depend on that order.
        """
        pending, delay = list(records), 0.1
        while pending:
            outcomes = await asyncio.gather(
                *(self._send(record) for record in pending), return_exceptions=True
            )
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

    async def _send(self, record: OutputRecord) -> None:
        sent = await self._topics[record.topic].send(key=record.key, value=record.value)
        await sent

    async def send_command(self, key: bytes, value: bytes) -> None:
        await self._topics[TRIGGERS_COMMANDS.name].send(key=key, value=value)


@dataclass
class TriggersWorker:
    app: faust.App
    processor: Processor
    recovered: bool = False
    http: web.AppRunner | None = None

    def not_ready_reason(self) -> str | None:
        if not self.recovered:
            return "tables are recovering"
        if self.app.rebalancing:
            return "rebalancing"
        return None


def _input(event: EventT[bytes]) -> InputRecord:
    message = event.message
    return InputRecord(
        message.topic, message.partition, message.offset, message.key, message.value, event
    )


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


async def _finish(batch: Awaitable[None]) -> None:
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
        _exit_unacknowledged(exc)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STOP_GRACE_S
    while not task.done() and loop.time() < deadline:
        with contextlib.suppress(asyncio.CancelledError):  # asked again: still finishing
            await asyncio.wait({task}, timeout=deadline - loop.time())
    if not task.done() or task.cancelled() or task.exception() is not None:
        _exit_unacknowledged(None if not task.done() or task.cancelled() else task.exception())
    raise asyncio.CancelledError  # finished: now stop, and let the batch be acknowledged


def _exit_unacknowledged(exc: BaseException | None) -> NoReturn:
    log.critical("a batch failed; exiting before it is acknowledged", exc_info=exc)
    logging.shutdown()
    os._exit(70)


def _broker_urls(kafka: KafkaSettings) -> list[str]:
    return [f"kafka://{server.strip()}" for server in kafka.bootstrap_servers.split(",")]


def _credentials(kafka: KafkaSettings) -> faust.SASLCredentials | faust.SSLCredentials | None:
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


def create_worker(
    settings: TriggersSettings,
    kafka: KafkaSettings,
    catalog: CampaignCatalog,
    clock: Clock | None = None,
    *,
    partitions: int = SHOP_EVENTS.partitions,
) -> TriggersWorker:
    clock = clock or make_clock(settings.time_scale, settings.clock_origin)
    app = faust.App(
        settings.app_id,
        broker=_broker_urls(kafka),
        broker_credentials=_credentials(kafka),
        store=settings.store,
        datadir=str(settings.data_dir),
        web_enabled=False,
        autodiscover=False,
        topic_partitions=partitions,
        topic_replication_factor=settings.replication_factor,
        table_standby_replicas=settings.standby_replicas,
        consumer_auto_offset_reset="earliest",  # `latest`: pinned in run() before joining
        producer_acks=-1,
        # Record sizes from shared/limits.py: Faust's defaults (1,000,000 bytes to send, 1 MiB
        # to fetch) are below what the topics take.
        producer_max_request_size=PRODUCER_MAX_REQUEST_BYTES,
        consumer_max_fetch_size=CONSUMER_MAX_PARTITION_FETCH_BYTES,
        stream_wait_empty=False,
        # A crashed agent would leave a live-looking worker that processes nothing: exit
        # instead, and let the orchestrator restart it (at-least-once, nothing is lost).
        agent_supervisor=CrashingSupervisor,
    )
    states, timers = (_raw_table(app, name, partitions) for name in TABLES)
    processor = Processor(
        states=states,
        timers=timers,
        index=TimerIndex(),
        catalog=catalog,
        clock=clock,
        outbox=FaustOutbox(app),
        scope=as_current_event,
    )
    worker = TriggersWorker(app=app, processor=processor)
    source = _raw_topic(app, *(spec.name for spec in INPUT_TOPICS))

    @app.agent(source, name="triggers", concurrency=1)
    async def process(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        batches = cast(faust.Stream[bytes], stream).take_events(  # not declared on StreamT
            settings.batch_max, settings.batch_window_s
        )
        async for events in batches:
            await _finish(processor.on_batch([_input(event) for event in events]))
            yield None

    @timers.on_recover
    async def rebuild_timer_index() -> None:
        processor.rebuild_index()
        worker.recovered = True
        log.info("timer index rebuilt: %d customers with a pending step", len(processor.index))

    @app.on_partitions_revoked.connect
    async def forget_revoked(app: faust.App, /, *_: object, **__: object) -> None:
        processor.index.clear()  # rebuilt once the new assignment has recovered

    @app.timer(interval=settings.tick_interval_s)  # type: ignore[untyped-decorator]
    async def tick() -> None:
        if worker.not_ready_reason() is None:
            await processor.tick(settings.max_fires_per_tick)

    @app.task  # type: ignore[untyped-decorator]
    async def serve_health() -> None:
        site = health_app(worker.not_ready_reason)
        worker.http = await start_site(site, settings.host, settings.port)

    return worker


def run(settings: TriggersSettings, kafka: KafkaSettings) -> None:
    """Run one triggers worker until SIGTERM / Ctrl-C."""
    catalog = CampaignCatalog.load(settings.campaigns_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)  # Faust creates only the last level
    inputs = [spec.name for spec in INPUT_TOPICS]
    partitions = input_partitions(kafka, inputs)
    create_topics(
        kafka,
        changelog_topics(settings.app_id, TABLES, partitions),
        replication_factor=settings.replication_factor,
    )
    if settings.start_from == "latest":
        pin_new_group_to_end(kafka, settings.app_id, inputs)
    worker = create_worker(settings, kafka, catalog, partitions=partitions)
    runner = faust.Worker(worker.app, loglevel=settings.log_level)
    # Faust's terminal spinner, when the level is WARN or above, sets the root logger to DEBUG
    # and spins on every record: each aiokafka debug message was then built and handled, ~6 per
    # event and ~10% of the worker's CPU. Without it the root logger keeps `log_level`.
    runner.spinner = None
    runner.execute_from_commandline()
