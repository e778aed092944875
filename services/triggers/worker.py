"""The Faust application: topics, changelogged tables, the agent and the timer tick.

One agent reads the shop, feedback and segment topics and the service's own commands topic,
with concurrency 1: processing has side effects, and with more than one in-flight message a
commit can pass one that is not done yet (faust-streaming issue 606). All four topics have the
same partition count and key, so a customer's events, due timers and hand-overs arrive on one
partition, in order, and the table shard of that partition holds the customer's state.

The durable timers are the customers' states themselves: each state's header holds its next
due time, so the one changelogged table (`journeys`, written a batch at a time through
shared/state_table.py) is the only write per customer, and the in-memory `TimerIndex` is
rebuilt from those headers whenever partitions are (re)assigned.
Deployments from before this layout also have a `timers` table's changelog topic: nothing
reads it any more, and it can be deleted.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import cast

import faust
from aiohttp import web

from services.triggers.campaigns import CampaignCatalog
from services.triggers.processor import Processor
from services.triggers.settings import TriggersSettings
from shared.clock import Clock, make_clock
from shared.faust_runtime import (
    FaustOutbox,
    finish,
    input_record,
    make_app,
    raw_topic,
    state_table,
)
from shared.faust_setup import changelog_topics, input_partitions
from shared.health_http import health_app, start_site
from shared.kafka import create_topics, pin_new_group_to_end
from shared.settings import KafkaSettings
from shared.timer_index import TimerIndex
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
TABLES = ("journeys",)


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


def create_worker(
    settings: TriggersSettings,
    kafka: KafkaSettings,
    catalog: CampaignCatalog,
    clock: Clock | None = None,
    *,
    partitions: int = SHOP_EVENTS.partitions,
) -> TriggersWorker:
    clock = clock or make_clock(settings.time_scale, settings.clock_origin)
    app = make_app(settings, kafka, partitions)
    states = state_table(app, TABLES[0], partitions, kafka)
    processor = Processor(
        states=states,
        index=TimerIndex(),
        catalog=catalog,
        clock=clock,
        outbox=FaustOutbox(app, OUTPUT_TOPICS, TRIGGERS_COMMANDS.name),
    )
    worker = TriggersWorker(app=app, processor=processor)
    source = raw_topic(app, *(spec.name for spec in INPUT_TOPICS))

    @app.agent(source, name="triggers", concurrency=1)
    async def process(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        batches = cast(faust.Stream[bytes], stream).take_events(  # not declared on StreamT
            settings.batch_max, settings.batch_window_s
        )
        async for events in batches:
            await finish(processor.on_batch([input_record(event) for event in events]))
            yield None

    @states.table.on_recover
    async def rebuild_timer_index() -> None:
        await processor.rebuild_index()
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
