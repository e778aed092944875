"""Events/s through one real triggers worker, next to a plain consumer of the same records.

1. The group of a fresh app id (`bench-triggers-<random>`) is pinned at the input topics' end
   offsets, then N workload records are produced to shop.events.v1 flat out. The worker is
   started afterwards with `NUDGE_TRIGGERS_START_FROM=latest`, which keeps the pinned offsets
   (the group has some), so it processes exactly the new records and none of the history.
2. `python -m services.triggers` runs as a subprocess with RocksDB tables in a scratch folder.
   Its /metrics counter `nudge_triggers_records_total` is polled: the rate is taken between
   the first poll that sees records processed and the one that sees all N (the start-up and
   table recovery are left out), with the process's CPU time (/proc/<pid>/stat) over the
   same window, and its peak RSS (VmHWM) at the end.
3. Reference, same run, same records: an aiokafka consumer that only reads them.
4. Breakdown, in-process: the same records through the worker's own `Processor` with dict
   tables and an outbox that drops records, so what remains is parsing + deciding +
   (de)serialising the state: the part of the per-event cost that is ours, not Faust's.

Afterwards the app's topics (changelogs, Faust's assignor topic) and its group are deleted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka import KafkaAdminClient, KafkaConsumer
from kafka import TopicPartition as KafkaPartition

from services.triggers.campaigns import CampaignCatalog
from services.triggers.processor import Processor
from services.triggers.worker import INPUT_TOPICS
from shared.clock import SystemClock
from shared.kafka import pin_new_group_to_end
from shared.settings import KafkaSettings
from shared.stream_batch import OutputRecord
from shared.timer_index import TimerIndex
from shared.topics import SHOP_EVENTS
from tests.bench.service import broker_pid
from tests.bench.triggers.workload import Workload, check_sample
from tests.support.ingest_process import free_port

ROOT = Path(__file__).resolve().parents[3]
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class WorkerRun:
    events: int
    produced_per_s: float
    record_bytes: float
    measured_events: int
    seconds: float
    events_per_s: float
    cpu_s: float
    cpu_us_per_event: float
    cores_busy: float
    peak_rss_mib: float
    dead_lettered: int
    startup_s: float
    state_bytes_mean: float
    broker_cores_busy: float | None
    """The local broker's CPU over the same window (None when it is not the local stack's)."""


@dataclass(frozen=True)
class Floor:
    """A Faust app that only takes the same records in the worker's batches (and, with
    `table`, writes each to a changelogged RocksDB table): Faust's own cost per record."""

    table: bool
    events_per_s: float
    cpu_us_per_event: float


@dataclass(frozen=True)
class Reference:
    events_per_s: float
    seconds: float
    floors: tuple[Floor, ...] = ()


@dataclass(frozen=True)
class Breakdown:
    """Per-event CPU of the in-process Processor (dict tables, outbox that drops)."""

    events: int
    us_per_event: float


class NullOutbox:
    async def publish_all(self, records: Sequence[OutputRecord]) -> None:
        return None

    async def send_command(self, key: bytes, value: bytes) -> None:
        return None


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def metric(text: str, name: str, *labels: str) -> float:
    """The sum of the samples of `name` whose line contains every one of `labels`."""
    total = 0.0
    for line in text.splitlines():
        if (
            line.startswith(name)
            and line[len(name)] in " {"
            and all(label in line for label in labels)
        ):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def produce(
    kafka: str, records: Sequence[tuple[bytes, bytes]], topic: str = SHOP_EVENTS.name
) -> float:
    """Flat out to `topic` (batched, not one acknowledgement at a time); returns records/s."""
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka, acks=1, linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    try:
        started = time.perf_counter()
        pending = []
        for key, value in records:
            pending.append(await producer.send(topic, value=value, key=key))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        return len(records) / (time.perf_counter() - started)
    finally:
        await producer.stop()


async def read_plain(
    kafka: str, start: dict[TopicPartition, int], end: dict[TopicPartition, int]
) -> Reference:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        wanted = {tp for tp in start if end[tp] > start[tp]}
        consumer.assign(list(wanted))
        for tp in wanted:
            consumer.seek(tp, start[tp])
        count, started = 0, time.perf_counter()
        while wanted:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for tp, batch in batches.items():
                count += sum(1 for r in batch if r.offset < end[tp])
                if batch and batch[-1].offset + 1 >= end[tp]:
                    wanted.discard(tp)
        seconds = time.perf_counter() - started
        return Reference(count / seconds, seconds)
    finally:
        await consumer.stop()


def offsets(kafka: str, topic: str) -> dict[TopicPartition, int]:
    consumer = KafkaConsumer(bootstrap_servers=kafka)
    try:
        parts = [
            KafkaPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        return {
            TopicPartition(tp.topic, tp.partition): o
            for tp, o in consumer.end_offsets(parts).items()
        }
    finally:
        consumer.close()


def floor_id(app_id: str, table: bool) -> str:
    return f"{app_id}-floor" + ("-table" if table else "")


def floor(
    kafka: str,
    app_id: str,
    count: int,
    table: bool,
    workdir: Path,
    log_path: Path,
    timeout: float,
    *,
    topics: Sequence[str] = (SHOP_EVENTS.name,),
    batch: tuple[int, float] | None = None,
) -> Floor:
    """Run faust_floor on `topics` (with `batch`: max records and window in seconds, else
    the triggers worker's) until it took `count` records."""
    out = workdir / f"floor-{table}.json"
    args: list[str] = [floor_id(app_id, table), str(count), "--out", str(out)]
    args += ["--data-dir", str(workdir / f"floor-{table}")] + (["--table"] if table else [])
    args += [arg for topic in topics for arg in ("--topic", topic)]
    if batch is not None:
        args += ["--batch-max", str(batch[0]), "--batch-window-s", str(batch[1])]
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka}
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.triggers.faust_floor", *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        proc.wait(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if not out.exists():
        raise RuntimeError(f"the Faust floor run left no result; see {log_path}")
    result = orjson.loads(out.read_bytes())
    events = result["events"]
    return Floor(table, events / result["seconds"], result["cpu_s"] / events * 1e6)


@contextmanager
def cleanup(kafka: str, app_id: str) -> Iterator[None]:
    """Delete the app's own topics and its consumer group, whatever happened."""
    try:
        yield
    finally:
        admin = KafkaAdminClient(bootstrap_servers=kafka, client_id="nudge-bench")
        try:
            mine = [t for t in admin.list_topics() if t.startswith(f"{app_id}-")]
            if mine:
                admin.delete_topics(mine)
            with suppress(Exception):
                groups = [g for g, *_ in admin.list_consumer_groups() if g.startswith(app_id)]
                admin.delete_groups(groups)
        finally:
            admin.close()


@contextmanager
def worker_process(
    kafka: str,
    app_id: str,
    data_dir: Path,
    log_path: Path,
    port: int,
    profile: Path | None,
    service: str = "triggers",
) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m services.<service>` with RocksDB tables, its settings as NUDGE_<SERVICE>_*."""
    prefix = f"NUDGE_{service.upper()}_"
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        f"{prefix}APP_ID": app_id,
        f"{prefix}STORE": "rocksdb://",
        f"{prefix}DATA_DIR": str(data_dir),
        f"{prefix}PORT": str(port),
        f"{prefix}START_FROM": "latest",
        f"{prefix}LOG_LEVEL": "warning",
    }
    with log_path.open("ab") as log:
        profiler = ["-m", "cProfile", "-o", str(profile)] if profile is not None else []
        proc = subprocess.Popen(
            [sys.executable, *profiler, "-m", f"services.{service}"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@dataclass(frozen=True)
class Window:
    """From the first poll that saw records processed to the one that saw them all."""

    startup_s: float
    first_done: int
    seconds: float
    cpu_s: float
    broker_cpu_s: float | None
    dead_lettered: int


def triggers_progress(metrics: str) -> tuple[int, int]:
    """(input records done, of which dead-lettered) from the triggers worker's /metrics."""
    return (
        int(metric(metrics, "nudge_triggers_records_total", SHOP_EVENTS.name)),
        int(metric(metrics, "nudge_triggers_records_total", "dead_lettered")),
    )


def watch(
    proc: subprocess.Popen[bytes],
    port: int,
    events: int,
    log_path: Path,
    timeout: float,
    broker: int | None,
    progress: Callable[[str], tuple[int, int]] = triggers_progress,
) -> Window:
    """Poll /metrics until `events` records are done (`progress`: see triggers_progress)."""
    url = f"http://127.0.0.1:{port}/metrics"
    launched = time.monotonic()
    deadline = launched + timeout
    first: tuple[float, int, float, float] | None = None
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"worker exited with {proc.returncode}: {log_path.read_text()[-3000:]}"
                )
            try:
                text = client.get(url).text
            except httpx.HTTPError:
                time.sleep(0.2)
                continue
            now, cpu = time.monotonic(), _cpu_seconds(proc.pid)
            broker_cpu = _cpu_seconds(broker) if broker is not None else 0.0
            done, dead_lettered = progress(text)
            if first is None and done > 0:
                first = (now, done, cpu, broker_cpu)
            if first is not None and done >= events:
                return Window(
                    startup_s=first[0] - launched,
                    first_done=first[1],
                    seconds=now - first[0],
                    cpu_s=cpu - first[2],
                    broker_cpu_s=broker_cpu - first[3] if broker is not None else None,
                    dead_lettered=dead_lettered,
                )
            time.sleep(0.1)
    raise TimeoutError(f"worker did not process {events} records in {timeout}s")


async def _breakdown(
    records: list[tuple[bytes, bytes]], catalog: CampaignCatalog
) -> tuple[Breakdown, float]:
    states: dict[bytes, bytes] = {}
    processor = Processor(
        states=states,
        timers={},
        index=TimerIndex(),
        catalog=catalog,
        clock=SystemClock(),
        outbox=NullOutbox(),
    )
    started = time.process_time()
    for offset, (key, value) in enumerate(records):
        await processor.on_record(SHOP_EVENTS.name, 0, offset, key, value)
    cpu = time.process_time() - started
    mean_state = sum(len(v) for v in states.values()) / max(len(states), 1)
    return Breakdown(len(records), cpu / len(records) * 1e6), mean_state


def run(
    kafka: str,
    events: int,
    customers: int,
    timeout: float,
    workdir: Path,
    profile: Path | None = None,
) -> tuple[WorkerRun, Reference, Breakdown]:
    app_id = f"bench-triggers-{uuid.uuid4().hex[:8]}"
    inputs = [spec.name for spec in INPUT_TOPICS]
    say(f"generating {events:,} events for {customers:,} customers")
    records = list(Workload(app_id, customers).records(events))
    check_sample(records[:200] + records[-2000:])
    record_bytes = sum(len(k) + len(v) for k, v in records) / len(records)
    say("in-process breakdown: Processor with dict tables, no Kafka, no Faust")
    catalog = CampaignCatalog.load(None)
    breakdown, state_bytes = asyncio.run(_breakdown(records, catalog))
    with (
        cleanup(kafka, app_id),
        tempfile.TemporaryDirectory(dir=workdir, prefix="triggers-") as tmp,
    ):
        pin_new_group_to_end(KafkaSettings(bootstrap_servers=kafka), app_id, inputs)
        for group in (floor_id(app_id, False), floor_id(app_id, True)):
            pin_new_group_to_end(KafkaSettings(bootstrap_servers=kafka), group, inputs)
        start = offsets(kafka, SHOP_EVENTS.name)
        say(f"producing {events:,} records to {SHOP_EVENTS.name} (group {app_id} pinned first)")
        produced = asyncio.run(produce(kafka, records))
        end = offsets(kafka, SHOP_EVENTS.name)
        appended = sum(end.values()) - sum(start.values())
        if appended != events:
            say(f"note: the topic grew by {appended:,} records, not {events:,}: others produce too")
        say("reference: a plain aiokafka consumer reading the same records")
        reference = asyncio.run(read_plain(kafka, start, end))
        say("starting the triggers worker (python -m services.triggers, RocksDB)")
        port = free_port()
        log_path = workdir / "triggers-worker.log"
        broker = broker_pid()
        with worker_process(kafka, app_id, Path(tmp) / "data", log_path, port, profile) as proc:
            window = watch(proc, port, appended, log_path, timeout, broker)
            peak = _peak_rss_mib(proc.pid)
        floors = []
        for table in (False, True):
            say(f"Faust floor: an agent that only takes the records{' and writes a table' * table}")
            floors.append(floor(kafka, app_id, appended, table, Path(tmp), log_path, timeout))
        reference = Reference(reference.events_per_s, reference.seconds, tuple(floors))
    measured = appended - window.first_done
    seconds, cpu = window.seconds, window.cpu_s
    broker_busy = window.broker_cpu_s / seconds if window.broker_cpu_s is not None else None
    return (
        WorkerRun(
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
            state_bytes_mean=state_bytes,
            broker_cores_busy=broker_busy,
        ),
        reference,
        breakdown,
    )
