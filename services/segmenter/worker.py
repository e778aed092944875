"""The segmenter's Faust application: topics, changelogged tables, the agent and the tick.

Built like the triggers worker (services/triggers/worker.py): one agent with concurrency 1
reads the shop, message status, feedback and conversion topics and the segmenter's own
commands topic; all have the same partition count and key, so a customer's records arrive on
one partition, in order, and that partition's table shard holds the customer's profile. It
runs in its own consumer group (`NUDGE_SEGMENTER_APP_ID`) and scales by partitions: more
workers share them. `profiles` (customer key -> profile) and `timers` (customer key -> the
next moment a time-based answer can change) are changelogged RocksDB tables; after every
(re)assignment the timer index and the RFM book are rebuilt from them, and readiness stays
false meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast

import faust
from aiohttp import web

from services.segmenter.evaluation import Evaluator
from services.segmenter.processor import Processor
from services.segmenter.settings import SegmenterSettings
from shared.clock import Clock, make_clock
from shared.faust_runtime import (
    FaustOutbox,
    as_current_event,
    finish,
    input_record,
    make_app,
    raw_table,
    raw_topic,
)
from shared.faust_setup import changelog_topics, input_partitions
from shared.health_http import health_app, start_site
from shared.kafka import create_topics, pin_new_group_to_end
from shared.settings import KafkaSettings
from shared.timer_index import TimerIndex
from shared.topics import (
    CONVERSIONS,
    CUSTOMER_PROFILES,
    FEEDBACK_EVENTS,
    MESSAGES_STATUS,
    SEGMENTER_COMMANDS,
    SEGMENTS_CHANGES,
    SHOP_EVENTS,
    dead_letter_topic,
)

log = logging.getLogger(__name__)

INPUT_TOPICS = (SHOP_EVENTS, MESSAGES_STATUS, FEEDBACK_EVENTS, CONVERSIONS, SEGMENTER_COMMANDS)
OUTPUT_TOPICS = (
    SEGMENTS_CHANGES.name,
    CUSTOMER_PROFILES.name,
    *(dead_letter_topic(spec.name).name for spec in INPUT_TOPICS),
)
TABLES = ("profiles", "timers")


@dataclass
class SegmenterWorker:
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


def create_worker(
    settings: SegmenterSettings,
    kafka: KafkaSettings,
    evaluator: Evaluator,
    clock: Clock | None = None,
    *,
    partitions: int = SHOP_EVENTS.partitions,
) -> SegmenterWorker:
    clock = clock or make_clock(settings.time_scale, settings.clock_origin)
    app = make_app(settings, kafka, partitions)
    profiles, timers = (raw_table(app, name, partitions) for name in TABLES)
    processor = Processor(
        profiles=profiles,
        timers=timers,
        index=TimerIndex(),
        evaluator=evaluator,
        clock=clock,
        outbox=FaustOutbox(app, OUTPUT_TOPICS, SEGMENTER_COMMANDS.name),
        scope=as_current_event,
    )
    worker = SegmenterWorker(app=app, processor=processor)
    source = raw_topic(app, *(spec.name for spec in INPUT_TOPICS))

    @app.agent(source, name="segmenter", concurrency=1)
    async def process(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        batches = cast(faust.Stream[bytes], stream).take_events(
            settings.batch_max, settings.batch_window_s
        )
        async for events in batches:
            await finish(processor.on_batch([input_record(event) for event in events]))
            yield None

    recovered_tables: set[str] = set()

    async def on_table_recovered(name: str) -> None:
        recovered_tables.add(name)
        if recovered_tables >= set(TABLES):
            await processor.recover()
            worker.recovered = True
            log.info(
                "recovered: %d profiles with a time-based answer pending", len(processor.index)
            )

    @profiles.on_recover
    async def profiles_recovered() -> None:
        await on_table_recovered("profiles")

    @timers.on_recover
    async def timers_recovered() -> None:
        await on_table_recovered("timers")

    @app.on_partitions_revoked.connect
    async def forget_revoked(app: faust.App, /, *_: object, **__: object) -> None:
        processor.index.clear()  # rebuilt once the new assignment has recovered
        processor.abandon_rebuild()
        recovered_tables.clear()

    @app.timer(interval=settings.tick_interval_s)  # type: ignore[untyped-decorator]
    async def tick() -> None:
        if worker.not_ready_reason() is None:
            await processor.tick(settings.max_due_per_tick)

    @app.timer(interval=60.0)  # type: ignore[untyped-decorator]
    async def rebuild_rfm() -> None:
        if worker.not_ready_reason() is None and evaluator.rebuild_due(clock.now().timestamp()):
            await processor.rebuild_rfm()

    @app.task  # type: ignore[untyped-decorator]
    async def serve_health() -> None:
        site = health_app(worker.not_ready_reason)
        worker.http = await start_site(site, settings.host, settings.port)

    return worker


def run(settings: SegmenterSettings, kafka: KafkaSettings) -> None:
    """Run one segmenter worker until SIGTERM / Ctrl-C."""
    evaluator = Evaluator.load(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    inputs = [spec.name for spec in INPUT_TOPICS]
    partitions = input_partitions(kafka, inputs)
    create_topics(
        kafka,
        changelog_topics(settings.app_id, TABLES, partitions),
        replication_factor=settings.replication_factor,
    )
    if settings.start_from == "latest":
        pin_new_group_to_end(kafka, settings.app_id, inputs)
    worker = create_worker(settings, kafka, evaluator, partitions=partitions)
    runner = faust.Worker(worker.app, loglevel=settings.log_level)
    runner.spinner = None  # see services/triggers/worker.py: the spinner costs ~10% CPU
    runner.execute_from_commandline()
