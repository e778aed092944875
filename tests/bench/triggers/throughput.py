"""Events/s and CPU per event through the real triggers worker, by table size and by workers.

Each run gets a fresh app id (`bench-triggers-<random>-<run>`) whose states table is seeded
first (population.py: realistic states cloned onto the run's customers, written straight to the
table's changelog, which the worker recovers at start-up). The group is pinned at the input
topics' end offsets, N workload records for the seeded customers are produced to shop.events.v1
flat out, and `python -m services.triggers` is started with `NUDGE_TRIGGERS_START_FROM=latest`
(the pinned offsets are kept), RocksDB tables in a scratch folder, so it processes exactly the
new records. Its /metrics counter `nudge_triggers_records_total` is polled: the rate is taken
between the first poll that sees records processed and the one that sees all N, so start-up and
table recovery are left out (and reported apart), with the process's CPU time (/proc) over the
same window, and its peak RSS (VmHWM) at the end.

1. Small: `customers` (1,000) customers. The same records then go through the Faust floor
   (an agent that only takes them; and one that also writes a table: faust_floor.py) and a
   plain aiokafka consumer: the references of the same run.
2. Large: `large` (1,000,000) customers, the same number of events drawn among them: the cost
   per event must not grow with the number of customers in the tables.
3. Two workers: one app id run as two processes, which split the partitions, on a fresh backlog
   of the same size for `customers` customers, produced once both are ready (so no rebalance
   falls in the window). Combined events/s, and CPU per event as the sum of both processes'
   CPU over the window divided by the events.
4. In process: the small run's records through the worker's own `Processor` over the same
   seeded states in a dict, an outbox that drops records: parsing + deciding + (de)serialising
   the state, the part of the per-event cost that is ours, not Faust's.

Afterwards every topic (changelogs, Faust's assignor topic) and group of the bench's runs is
deleted.
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
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from kafka import KafkaAdminClient, KafkaConsumer
from kafka import TopicPartition as KafkaPartition

from services.triggers.campaigns import CampaignCatalog
from services.triggers.worker import INPUT_TOPICS
from shared.clock import SystemClock
from shared.kafka import pin_new_group_to_end
from shared.settings import KafkaSettings
from shared.stream_batch import OutputRecord
from shared.topics import SHOP_EVENTS
from tests.bench.service import broker_pid
from tests.bench.triggers import population
from tests.bench.triggers.population import Seeding, Templates, new_processor
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
    customers: int = 0
    """Customers in the states table (seeded before the worker started), 0: not seeded."""
    seeding: Seeding | None = None
    others_cores_busy: float | None = None
    """The rest of the machine over the window (see Window.others_cpu_s)."""
    longest_pause_s: float = 0.0


@dataclass(frozen=True)
class PairRun:
    """Two worker processes of one app id (they split the partitions), a fresh backlog."""

    customers: int
    events: int
    measured_events: int
    seconds: float
    events_per_s: float
    cpu_s: tuple[float, ...]
    """Each process's CPU over the window."""
    done: tuple[int, ...]
    """Records each process had processed at the end (its share of the partitions)."""
    cpu_us_per_event: float
    """Both processes' CPU over the window / the events in it."""
    broker_cores_busy: float | None
    ready_s: float
    """From the start of both processes until both were ready (recovered, not rebalancing)."""
    peak_rss_mib: tuple[float, ...]
    dead_lettered: int
    others_cores_busy: float | None
    longest_pause_s: float


@dataclass(frozen=True)
class Results:
    small: WorkerRun
    large: WorkerRun | None
    pair: PairRun | None
    reference: Reference
    breakdown: Breakdown
    """The small run's records, in process."""
    templates: Templates
    state_bytes_after_small: float
    """Mean state size of the customers the small run's records touched, once they went
    through (in process)."""
    breakdown_large: Breakdown | None = None
    state_bytes_after_large: float | None = None

    @property
    def size_ratio(self) -> float | None:
        """CPU per event, large / small."""
        if self.large is None:
            return None
        return self.large.cpu_us_per_event / self.small.cpu_us_per_event


@dataclass(frozen=True)
class Floor:
    """A Faust app that only takes the same records in the worker's batches (and, with
    `table`, writes each to a changelogged RocksDB table): Faust's own cost per record."""

    table: bool
    events_per_s: float
    cpu_us_per_event: float
    batched: bool = False
    """The table written as the triggers worker writes it (`--batch-table`), not key by key."""


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


def machine_cpu_seconds() -> float:
    """CPU time all cores spent busy since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLK_TCK  # up to steal; guests counted


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


def floor_id(app_id: str, table: bool, batched: bool = False) -> str:
    return f"{app_id}-floor" + ("-batch" if batched else "-table" if table else "")


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
    batched: bool = False,
) -> Floor:
    """Run faust_floor on `topics` (with `batch`: max records and window in seconds, else
    the triggers worker's) until it took `count` records."""
    name = f"floor-{table}-{batched}"
    out = workdir / f"{name}.json"
    args: list[str] = [floor_id(app_id, table, batched), str(count), "--out", str(out)]
    args += ["--data-dir", str(workdir / name)]
    args += ["--batch-table"] if batched else ["--table"] if table else []
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
    return Floor(table, events / result["seconds"], result["cpu_s"] / events * 1e6, batched)


@contextmanager
def cleanup(kafka: str, app_id: str) -> Iterator[None]:
    """Delete the app's own topics and consumer groups (`<app_id>` and `<app_id>-*`), whatever
    happened. A group whose member was killed (the floor's) stays non-empty until the
    member's session times out: those are retried for up to GROUP_WAIT_S."""
    try:
        yield
    finally:
        admin = KafkaAdminClient(bootstrap_servers=kafka, client_id="nudge-bench")
        try:
            mine = [t for t in admin.list_topics() if t.startswith(f"{app_id}-")]
            if mine:
                admin.delete_topics(mine)
            try:
                _delete_groups(admin, app_id)
            except Exception as exc:  # never hide what the run itself raised
                say(f"note: consumer groups of {app_id} not deleted: {exc!r}")
        finally:
            admin.close()


GROUP_WAIT_S = 75.0


def _delete_groups(admin: KafkaAdminClient, app_id: str) -> None:
    groups = [
        g["group_id"]
        for g in admin.list_groups()
        if g["group_id"] == app_id or g["group_id"].startswith(f"{app_id}-")
    ]
    deadline = time.monotonic() + GROUP_WAIT_S
    while groups:
        outcomes = dict(admin.delete_groups(groups))  # {group: "OK" or the error's name}
        failed = [(group, error) for group, error in outcomes.items() if error != "OK"]
        groups = [group for group, error in failed if error == "GroupNotEmptyError"]
        for group, error in failed:
            if error != "GroupNotEmptyError":
                say(f"note: consumer group {group} not deleted: {error}")
        if groups and time.monotonic() > deadline:
            say(f"note: consumer groups {', '.join(groups)} still have members; not deleted")
            return
        if groups:
            time.sleep(5)


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
    cpu_each: tuple[float, ...] = ()
    """Each watched process's CPU over the window (cpu_s is their sum)."""
    done_each: tuple[int, ...] = ()
    """Records each had processed at the end."""
    others_cpu_s: float | None = None
    """The rest of the machine (this program included) over the window: all cores' busy
    time minus the workers' and the broker's."""
    longest_pause_s: float = 0.0
    """The longest time in the window without a record done (a stall shows here)."""


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
    return watch_all([proc], [port], events, log_path, timeout, broker, progress)


def watch_all(
    procs: Sequence[subprocess.Popen[bytes]],
    ports: Sequence[int],
    events: int,
    log_path: Path,
    timeout: float,
    broker: int | None,
    progress: Callable[[str], tuple[int, int]] = triggers_progress,
) -> Window:
    """`watch` over workers of one app: their records done and their CPU, summed."""
    urls = [f"http://127.0.0.1:{port}/metrics" for port in ports]
    launched = time.monotonic()
    deadline = launched + timeout
    first: tuple[float, int, list[float], float, float] | None = None
    last, pause = (launched, 0), 0.0  # (when done last grew, done then), longest pause
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < deadline:
            for proc in procs:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"worker exited with {proc.returncode}: {log_path.read_text()[-3000:]}"
                    )
            try:
                texts = [client.get(url).text for url in urls]
            except httpx.HTTPError:
                time.sleep(0.2)
                continue
            now, cpus = time.monotonic(), [_cpu_seconds(proc.pid) for proc in procs]
            broker_cpu = _cpu_seconds(broker) if broker is not None else 0.0
            busy = machine_cpu_seconds()
            each = [progress(text) for text in texts]
            done, dead_lettered = sum(d for d, _ in each), sum(d for _, d in each)
            if first is None and done > 0:
                first = (now, done, cpus, broker_cpu, busy)
                last = (now, done)
            elif first is not None and done > last[1]:
                pause, last = max(pause, now - last[0]), (now, done)
            if first is not None and done >= events:
                spent = tuple(cpu - before for cpu, before in zip(cpus, first[2], strict=True))
                broker_spent = broker_cpu - first[3] if broker is not None else None
                return Window(
                    startup_s=first[0] - launched,
                    first_done=first[1],
                    seconds=now - first[0],
                    cpu_s=sum(spent),
                    broker_cpu_s=broker_spent,
                    dead_lettered=dead_lettered,
                    cpu_each=spent,
                    done_each=tuple(d for d, _ in each),
                    others_cpu_s=(
                        busy - first[4] - sum(spent) - broker_spent
                        if broker_spent is not None
                        else None
                    ),
                    longest_pause_s=pause,
                )
            time.sleep(0.1)
    raise TimeoutError(f"workers did not process {events} records in {timeout}s")


def wait_ready(
    procs: Sequence[subprocess.Popen[bytes]], ports: Sequence[int], log_path: Path, timeout: float
) -> float:
    """Seconds until every worker answers /readyz with 200 at once (tables recovered, no
    rebalance going on); raises if one exits or the time runs out."""
    started = time.monotonic()
    with httpx.Client(timeout=5) as client:
        while time.monotonic() < started + timeout:
            for proc in procs:
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"worker exited with {proc.returncode}: {log_path.read_text()[-3000:]}"
                    )
            try:
                codes = [client.get(f"http://127.0.0.1:{p}/readyz").status_code for p in ports]
            except httpx.HTTPError:
                codes = []
            if codes and all(code == 200 for code in codes):
                return time.monotonic() - started
            time.sleep(0.2)
    raise TimeoutError(f"workers not ready in {timeout}s")


async def _breakdown(
    records: list[tuple[bytes, bytes]], states: MutableMapping[bytes, bytes]
) -> tuple[Breakdown, float]:
    processor = new_processor(states, CampaignCatalog.load(None), SystemClock(), NullOutbox())
    started = time.process_time()
    for offset, (key, value) in enumerate(records):
        await processor.on_record(SHOP_EVENTS.name, 0, offset, key, value)
    cpu = time.process_time() - started
    mean_state = sum(len(v) for v in states.values()) / max(len(states), 1)
    return Breakdown(len(records), cpu / len(records) * 1e6), mean_state


def in_process(
    records: list[tuple[bytes, bytes]], shop_id: str, templates: Templates
) -> tuple[Breakdown, float]:
    """`records` through the Processor over the seeded states of the customers they touch
    (a dict: its size does not matter here); (CPU per event, mean state of those customers
    after)."""
    touched = {int(key.rsplit(b"-", 1)[1]) for key, _value in records}
    states = dict(population.clones(templates.states, shop_id, sorted(touched)))
    return asyncio.run(_breakdown(records, states))


@dataclass(frozen=True)
class Backlog:
    """What a run produced to shop.events.v1 and where it lies."""

    records: int
    produced_per_s: float
    record_bytes: float
    start: dict[TopicPartition, int]
    end: dict[TopicPartition, int]


def _backlog(kafka: str, records: list[tuple[bytes, bytes]]) -> Backlog:
    start = offsets(kafka, SHOP_EVENTS.name)
    produced = asyncio.run(produce(kafka, records))
    end = offsets(kafka, SHOP_EVENTS.name)
    appended = sum(end.values()) - sum(start.values())
    if appended != len(records):
        say(f"note: the topic grew by {appended:,} records, not {len(records):,}: others produce")
    record_bytes = sum(len(k) + len(v) for k, v in records) / len(records)
    return Backlog(appended, produced, record_bytes, start, end)


def _per_second(cpu_s: float | None, seconds: float) -> float | None:
    return cpu_s / seconds if cpu_s is not None else None


def _worker_run(
    backlog: Backlog,
    window: Window,
    peak: float,
    customers: int,
    seeding: Seeding,
    state_bytes: float,
) -> WorkerRun:
    measured = backlog.records - window.first_done
    seconds, cpu = window.seconds, window.cpu_s
    return WorkerRun(
        events=backlog.records,
        produced_per_s=backlog.produced_per_s,
        record_bytes=backlog.record_bytes,
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
        broker_cores_busy=_per_second(window.broker_cpu_s, seconds),
        customers=customers,
        seeding=seeding,
        others_cores_busy=_per_second(window.others_cpu_s, seconds),
        longest_pause_s=window.longest_pause_s,
    )


@dataclass(frozen=True)
class Bench:
    """What every run of one bench shares."""

    kafka: str
    base: str
    """The bench's id: the shop id of every record, the prefix of every app id."""
    templates: Templates
    scratch: Path
    log_path: Path
    timeout: float

    @property
    def inputs(self) -> list[str]:
        return [spec.name for spec in INPUT_TOPICS]

    def pin(self, *groups: str) -> None:
        for group in groups:
            pin_new_group_to_end(KafkaSettings(bootstrap_servers=self.kafka), group, self.inputs)

    def seed(self, app_id: str, customers: int) -> Seeding:
        return population.seed(self.kafka, app_id, self.base, self.templates.states, customers)


def one_worker(
    bench: Bench,
    run: str,
    records: list[tuple[bytes, bytes]],
    customers: int,
    state_bytes: float,
    profile: Path | None = None,
    also_pin: Sequence[str] = (),
) -> tuple[WorkerRun, Backlog]:
    """Seed `customers` states, produce `records`, time one worker through them."""
    app_id = f"{bench.base}-{run}"
    seeding = bench.seed(app_id, customers)
    bench.pin(app_id, *also_pin)
    say(f"producing {len(records):,} records to {SHOP_EVENTS.name} (group {app_id} pinned first)")
    backlog = _backlog(bench.kafka, records)
    say(f"starting the triggers worker ({customers:,} customers' states to recover first)")
    port = free_port()
    with worker_process(
        bench.kafka, app_id, bench.scratch / run, bench.log_path, port, profile
    ) as proc:
        window = watch(proc, port, backlog.records, bench.log_path, bench.timeout, broker_pid())
        peak = _peak_rss_mib(proc.pid)
    return _worker_run(backlog, window, peak, customers, seeding, state_bytes), backlog


def two_workers(bench: Bench, records: list[tuple[bytes, bytes]], customers: int) -> PairRun:
    """Seed `customers` states for a fresh app id, start two workers of it, wait until both
    are ready, then produce `records` and time both through them."""
    app_id = f"{bench.base}-pair"
    bench.seed(app_id, customers)
    bench.pin(app_id)
    ports = [free_port(), free_port()]
    say("starting two triggers workers of one app id; the backlog follows once both are ready")
    with (
        worker_process(
            bench.kafka, app_id, bench.scratch / "pair-a", bench.log_path, ports[0], None
        ) as first,
        worker_process(
            bench.kafka, app_id, bench.scratch / "pair-b", bench.log_path, ports[1], None
        ) as second,
    ):
        procs = [first, second]
        ready = wait_ready(procs, ports, bench.log_path, bench.timeout)
        say(f"both ready after {ready:.1f} s; producing {len(records):,} records")
        backlog = _backlog(bench.kafka, records)
        window = watch_all(
            procs, ports, backlog.records, bench.log_path, bench.timeout, broker_pid()
        )
        peaks = tuple(_peak_rss_mib(proc.pid) for proc in procs)
    measured = backlog.records - window.first_done
    return PairRun(
        customers=customers,
        events=backlog.records,
        measured_events=measured,
        seconds=window.seconds,
        events_per_s=measured / window.seconds,
        cpu_s=window.cpu_each,
        done=window.done_each,
        cpu_us_per_event=window.cpu_s / measured * 1e6,
        broker_cores_busy=_per_second(window.broker_cpu_s, window.seconds),
        ready_s=ready,
        peak_rss_mib=peaks,
        dead_lettered=window.dead_lettered,
        others_cores_busy=_per_second(window.others_cpu_s, window.seconds),
        longest_pause_s=window.longest_pause_s,
    )


def run(
    kafka: str,
    events: int,
    customers: int,
    large: int | None,
    timeout: float,
    workdir: Path,
    profile: Path | None = None,
    *,
    templates: int = 2_000,
    scaling: bool = True,
) -> Results:
    """The small run with its references, then (unless None / False) the large one and the
    two-worker one."""
    base = f"bench-triggers-{uuid.uuid4().hex[:8]}"
    made = population.templates(templates)
    say(f"generating {events:,} events for {customers:,} seeded customers")
    small_load = Workload(base, customers, seeded=True)
    records = list(small_load.records(events))
    check_sample(records[:200] + records[-2000:])
    say("in-process breakdown: Processor with dict tables (seeded alike), no Kafka, no Faust")
    breakdown, state_bytes = in_process(records, base, made)
    with (
        cleanup(kafka, base),
        tempfile.TemporaryDirectory(dir=workdir, prefix="triggers-") as tmp,
    ):
        bench = Bench(kafka, base, made, Path(tmp), workdir / "triggers-worker.log", timeout)
        small_id = f"{base}-small"
        variants = ((False, False), (True, False), (True, True))  # (table, batched)
        floors_ids = tuple(floor_id(small_id, *variant) for variant in variants)
        small, backlog = one_worker(
            bench, "small", records, customers, made.mean_bytes, profile, also_pin=floors_ids
        )
        say("reference: a plain aiokafka consumer reading the same records")
        plain = asyncio.run(read_plain(kafka, backlog.start, backlog.end))
        floors = []
        for table, batched in variants:
            how = " and writes them in batches" if batched else " and writes a table" * table
            say(f"Faust floor: an agent that only takes the records{how}")
            floors.append(
                floor(
                    kafka,
                    small_id,
                    backlog.records,
                    table,
                    Path(tmp),
                    bench.log_path,
                    timeout,
                    batched=batched,
                )
            )
        reference = Reference(plain.events_per_s, plain.seconds, tuple(floors))
        large_run = large_breakdown = large_bytes = None
        if large is not None:
            say(f"generating {events:,} events among {large:,} seeded customers")
            large_records = list(Workload(base, large, seed=8, seeded=True).records(events))
            check_sample(large_records[:200] + large_records[-2000:])
            say("in-process breakdown of these records (the customers they touch, seeded alike)")
            large_breakdown, large_bytes = in_process(large_records, base, made)
            large_run, _ = one_worker(bench, "large", large_records, large, made.mean_bytes)
            del large_records
        pair = None
        if scaling:
            say(f"generating a fresh {events:,} events for the {customers:,} customers")
            pair = two_workers(bench, list(small_load.records(events)), customers)
    return Results(
        small,
        large_run,
        pair,
        reference,
        breakdown,
        made,
        state_bytes,
        large_breakdown,
        large_bytes,
    )
