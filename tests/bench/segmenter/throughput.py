"""Events/s through one real segmenter worker, next to the Faust floor on the same records.

Built from the triggers bench's pieces (tests/bench/triggers/throughput.py, which explains
each step), with the segmenter's input:

1. The groups of a fresh app id (`bench-segmenter-<random>`) and of its two floors are pinned
   at the input topics' end offsets, then N workload records (workload.py: shop events,
   message statuses, feedback) are produced to their three topics flat out.
2. `python -m services.segmenter` runs as a subprocess with RocksDB tables in a scratch
   folder, every shop on the shipped segments. Its /metrics counter
   `nudge_segmenter_records_total` (processed + dead-lettered, on the three input topics) is
   polled: the rate is taken between the first poll that sees records processed and the one
   that sees all N, with the process's CPU time (/proc/<pid>/stat) over the same window.
3. The floor, same run, same records: a Faust agent with the worker's settings and batches
   that only takes them (tests/bench/triggers/faust_floor.py on the segmenter's input topics),
   and one that also writes each to a changelogged table; a plain aiokafka reader beside.
4. Breakdown, in-process: the same records through the worker's own `Processor`, `batch_max`
   at a time (the worker's bound; its own batches hold what arrived while it was busy, often
   far fewer, so it evaluates and writes a customer more often), dict tables, an outbox that
   counts what it is given and drops it.

Afterwards the app's topics (changelogs, Faust's assignor topic) and its groups are deleted.
"""

from __future__ import annotations

import asyncio
import cProfile
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aiokafka import TopicPartition

from services.segmenter.evaluation import Evaluator
from services.segmenter.processor import Processor
from services.segmenter.rfm.book import RfmBook
from services.segmenter.rules.loader import SegmentCatalog
from services.segmenter.settings import SegmenterSettings
from services.segmenter.worker import INPUT_TOPICS
from shared.clock import SystemClock
from shared.kafka import pin_new_group_to_end
from shared.settings import KafkaSettings
from shared.stream_batch import InputRecord, OutputRecord
from shared.timer_index import TimerIndex
from shared.topics import CUSTOMER_PROFILES, SEGMENTS_CHANGES
from tests.bench.segmenter.workload import PARSERS, Record, SegmenterWorkload, check_sample
from tests.bench.service import broker_pid, peak_rss_mib
from tests.bench.triggers.throughput import (
    Breakdown,
    Floor,
    Reference,
    WorkerRun,
    cleanup,
    floor,
    floor_id,
    metric,
    offsets,
    produce,
    read_plain,
    say,
    watch,
    worker_process,
)
from tests.support.ingest_process import free_port

RECORDS_METRIC = "nudge_segmenter_records_total"
MEASURED_TOPICS = tuple(PARSERS)
"""The input topics the workload writes (conversions and the commands topic stay empty)."""


@dataclass(frozen=True)
class Output:
    """What the in-process run emitted, per input record."""

    profiles_per_event: float
    changes_per_event: float


class CountingOutbox:
    """Keeps nothing: counts the records it is given, per topic."""

    def __init__(self) -> None:
        self.published: Counter[str] = Counter()
        self.commands = 0

    async def publish_all(self, records: Sequence[OutputRecord]) -> None:
        self.published.update(record.topic for record in records)

    async def send_command(self, key: bytes, value: bytes) -> None:
        self.commands += 1


def segmenter_progress(metrics: str) -> tuple[int, int]:
    """(input records done, of which dead-lettered) on the workload's topics, from the
    segmenter's /metrics (`processed` counts every record not parked, unchanged ones too)."""
    done = dead = 0
    for topic in MEASURED_TOPICS:
        label = f'topic="{topic}"'
        done += int(metric(metrics, RECORDS_METRIC, label, 'outcome="processed"'))
        dead += int(metric(metrics, RECORDS_METRIC, label, 'outcome="dead_lettered"'))
    return done + dead, dead


def new_processor(outbox: CountingOutbox, settings: SegmenterSettings) -> Processor:
    """The worker's processor, with the shipped segments, dict tables and `outbox`."""
    return Processor(
        profiles={},
        timers={},
        index=TimerIndex(),
        evaluator=Evaluator(SegmentCatalog.load(None), RfmBook(), settings.rfm_rebuild_s),
        clock=SystemClock(),
        outbox=outbox,
    )


async def _feed(processor: Processor, records: Sequence[Record], batch: int) -> None:
    for start in range(0, len(records), batch):
        await processor.on_batch(
            [
                InputRecord(r.topic, 0, start + n, r.key, r.value)
                for n, r in enumerate(records[start : start + batch])
            ]
        )


def breakdown(
    records: Sequence[Record], settings: SegmenterSettings, profile: Path | None = None
) -> tuple[Breakdown, float, Output]:
    """Per-event CPU of the processor alone (optionally under cProfile, stats to `profile`);
    the mean stored profile size; what it emitted."""
    outbox = CountingOutbox()
    processor = new_processor(outbox, settings)
    run = _feed(processor, records, settings.batch_max)
    started = time.process_time()
    if profile is None:
        asyncio.run(run)
    else:
        profiler = cProfile.Profile()
        profiler.runcall(asyncio.run, run)
        profiler.dump_stats(profile)
    cpu = time.process_time() - started
    stored = processor.profiles.values()
    mean_profile = sum(len(v) for v in stored) / max(len(stored), 1)
    events = len(records)
    output = Output(
        profiles_per_event=outbox.published[CUSTOMER_PROFILES.name] / events,
        changes_per_event=outbox.published[SEGMENTS_CHANGES.name] / events,
    )
    return Breakdown(events, cpu / events * 1e6), mean_profile, output


async def _produce_all(kafka: str, records: Sequence[Record]) -> float:
    """Every topic's records at once (each topic in the workload's order); records/s."""
    by_topic: dict[str, list[tuple[bytes, bytes]]] = {}
    for record in records:
        by_topic.setdefault(record.topic, []).append((record.key, record.value))
    started = time.perf_counter()
    await asyncio.gather(*(produce(kafka, pairs, topic) for topic, pairs in by_topic.items()))
    return len(records) / (time.perf_counter() - started)


def _offsets(kafka: str) -> dict[TopicPartition, int]:
    return {tp: o for topic in MEASURED_TOPICS for tp, o in offsets(kafka, topic).items()}


def run(
    kafka: str,
    events: int,
    customers: int,
    timeout: float,
    workdir: Path,
    profile_worker: Path | None = None,
    profile_in_process: Path | None = None,
) -> tuple[WorkerRun, Reference, Breakdown, Output]:
    settings = SegmenterSettings()
    app_id = f"bench-segmenter-{uuid.uuid4().hex[:8]}"
    inputs = [spec.name for spec in INPUT_TOPICS]
    say(f"generating {events:,} events for {customers:,} customers of several shops")
    records = list(SegmenterWorkload(app_id, customers).records(events))
    check_sample(records[:200] + records[-2000:])
    record_bytes = sum(len(r.key) + len(r.value) for r in records) / len(records)
    say("in-process breakdown: the segmenter's Processor with dict tables, no Kafka, no Faust")
    in_process, profile_bytes, output = breakdown(records, settings, profile_in_process)
    kafka_settings = KafkaSettings(bootstrap_servers=kafka)
    with (
        cleanup(kafka, app_id),
        tempfile.TemporaryDirectory(dir=workdir, prefix="segmenter-") as tmp,
    ):
        for group in (app_id, floor_id(app_id, False), floor_id(app_id, True)):
            pin_new_group_to_end(kafka_settings, group, inputs)
        start = _offsets(kafka)
        say(f"producing {events:,} records to {', '.join(MEASURED_TOPICS)} (groups pinned first)")
        produced = asyncio.run(_produce_all(kafka, records))
        end = _offsets(kafka)
        appended = sum(end.values()) - sum(start.values())
        if appended != events:
            say(f"note: the topics grew by {appended:,} records, not {events:,}: others produce")
        say("reference: a plain aiokafka consumer reading the same records")
        reference = asyncio.run(read_plain(kafka, start, end))
        say("starting the segmenter worker (python -m services.segmenter, RocksDB)")
        port = free_port()
        log_path = workdir / "segmenter-worker.log"
        broker = broker_pid()
        data = Path(tmp) / "data"
        with worker_process(
            kafka, app_id, data, log_path, port, profile_worker, service="segmenter"
        ) as proc:
            window = watch(
                proc, port, appended, log_path, timeout, broker, progress=segmenter_progress
            )
            peak = peak_rss_mib(proc.pid)
        floors: list[Floor] = []
        for table in (False, True):
            say(f"Faust floor: an agent that only takes the records{' and writes a table' * table}")
            floors.append(
                floor(
                    kafka,
                    app_id,
                    appended,
                    table,
                    Path(tmp),
                    log_path,
                    timeout,
                    topics=inputs,
                    batch=(settings.batch_max, settings.batch_window_s),
                )
            )
        reference = Reference(reference.events_per_s, reference.seconds, tuple(floors))
    measured = appended - window.first_done
    seconds, cpu = window.seconds, window.cpu_s
    broker_busy = window.broker_cpu_s / seconds if window.broker_cpu_s is not None else None
    worker = WorkerRun(
        events=appended,
        produced_per_s=produced,
        record_bytes=record_bytes,
        measured_events=measured,
        seconds=seconds,
        events_per_s=measured / seconds,
        cpu_s=cpu,
        cpu_us_per_event=cpu / measured * 1e6,
        cores_busy=cpu / seconds,
        peak_rss_mib=peak,
        dead_lettered=window.dead_lettered,
        startup_s=window.startup_s,
        state_bytes_mean=profile_bytes,
        broker_cores_busy=broker_busy,
    )
    return worker, reference, in_process, output
