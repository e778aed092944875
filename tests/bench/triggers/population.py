"""Customer states for the table-size runs: realistic histories, cloned onto N keys.

`templates`: a few thousand customers' histories (workload.py `timeline`: most with a few
events, a tenth with a long one, over the past weeks) go through the worker's own `Processor`
with dict tables and a clock that follows the events, ticking as the worker would, so due steps
fire (or expire) when they fall due and the states end as a worker would have left them: no step
overdue, the open journeys due later (after QUIET_S).

`clones`: customer n of the bench shop gets template n % len(templates), with the shop id and
the customer id rewritten. Each template is encoded once per id width with a placeholder id of
that width, and each clone is a byte replacement of the placeholder, so a million clones cost a
second or two rather than a million decodes; a sample is decoded back to check.

`seed`: the clones straight onto the states table's changelog (`<app id>-journeys-changelog`,
created beforehand as the worker creates it), each on the partition the input producer's
partitioner gives its key (murmur2, as the Java client and aiokafka: a customer's state lives on
the changelog partition of its input partition). The worker recovers them at start-up.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka.partitioner import DefaultPartitioner
from confluent_kafka import KafkaError, Message, Producer

from services.triggers.campaigns import CampaignCatalog
from services.triggers.journeys import CustomerState
from services.triggers.processor import Processor
from services.triggers.worker import INPUT_TOPICS, TABLES
from shared.faust_setup import changelog_topics, input_partitions
from shared.kafka import create_topics
from shared.settings import KafkaSettings
from shared.state_table import MemoryStateTable
from shared.stream_batch import Outbox, OutputRecord
from shared.timer_index import TimerIndex
from shared.topics import SHOP_EVENTS, TRIGGERS_COMMANDS
from tests.bench.triggers.workload import HISTORY, Workload, customer_id

(STATES_TABLE,) = TABLES
"""The worker's one table, the customers' states."""
TEMPLATE_SHOP = "bench-template"
HISTORY_DAYS = 60.0
TICK_S = 600.0
"""Simulated time between two ticks while the histories play (well under every lateness bound)."""
QUIET_S = 2 * 3600.0
"""After the last event the clock ticks on this far, so no seeded step falls due while the
bench runs: the timed windows measure events, not a burst of due steps of a million clones."""
CHECKED_CLONES = 200


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


class SimClock:
    """The processor's clock while the histories play: set by hand, epoch seconds."""

    def __init__(self, at: float) -> None:
        self.at = at

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.at, UTC)

    def seconds_until(self, moment: datetime) -> float:
        return moment.timestamp() - self.at

    def after(self, seconds: float) -> datetime:
        return self.now() + timedelta(seconds=seconds)


class CommandsBack:
    """An outbox that drops the published records and keeps the due commands, which the
    histories feed back to the processor (the worker's commands-topic round trip)."""

    def __init__(self) -> None:
        self.commands: list[tuple[bytes, bytes]] = []

    async def publish_all(self, records: Sequence[OutputRecord]) -> None:
        return None

    async def send_command(self, key: bytes, value: bytes) -> None:
        self.commands.append((key, value))


def new_processor(
    states: MutableMapping[bytes, bytes], catalog: CampaignCatalog, clock: Any, outbox: Outbox
) -> Processor:
    """The worker's Processor over a dict as its states table."""
    return Processor(
        states=MemoryStateTable(states),
        index=TimerIndex(),
        catalog=catalog,
        clock=clock,
        outbox=outbox,
    )


@dataclass(frozen=True)
class Templates:
    states: tuple[bytes, ...]
    history_events: int
    """Input records played (fired due commands not counted)."""
    fired_commands: int
    seconds: float
    mean_bytes: float
    p99_bytes: float
    max_bytes: float
    open_journeys: tuple[tuple[int, int], ...]
    """(open journeys, templates with that many), by number (empty if the state has no
    `journeys` list to count)."""


async def _play(
    workload: Workload, processor: Processor, clock: SimClock, outbox: CommandsBack, end: float
) -> tuple[int, int]:
    """Feed the timeline in order, ticking every TICK_S of simulated time up to each record
    and on to `end` + QUIET_S; returns (records fed, due commands fed back)."""
    timeline = workload.timeline(HISTORY_DAYS, end)
    offset = commands = 0
    next_tick = timeline[0][0] if timeline else end

    async def tick_until(moment: float) -> None:
        nonlocal next_tick, offset, commands
        while next_tick <= moment:
            clock.at = next_tick
            await processor.tick(1_000_000)
            for key, value in outbox.commands:
                await processor.on_record(TRIGGERS_COMMANDS.name, 0, offset, key, value)
                offset += 1
            commands += len(outbox.commands)
            outbox.commands.clear()
            next_tick += TICK_S

    for when, n, kind in timeline:
        await tick_until(when)
        clock.at = when
        key, value = workload.record_for(workload.customer(n), kind, clock.now())
        await processor.on_record(SHOP_EVENTS.name, 0, offset, key, value)
        offset += 1
    await tick_until(end + QUIET_S)
    return len(timeline), commands


def templates(count: int, seed: int = 3) -> Templates:
    """`count` customer states made by the worker's Processor from realistic histories."""
    shares = ", ".join(f"{share:.0%} with {lo}-{hi}" for share, lo, hi in HISTORY)
    say(
        f"template states: {count:,} customers' histories over {HISTORY_DAYS:.0f} days "
        f"({shares} events after sign-up), in-process Processor ticking every {TICK_S:.0f} s"
    )
    started = time.perf_counter()
    end = time.time()
    clock = SimClock(end - HISTORY_DAYS * 86_400)
    outbox = CommandsBack()
    states: dict[bytes, bytes] = {}
    processor = new_processor(states, CampaignCatalog.load(None), clock, outbox)
    workload = Workload(TEMPLATE_SHOP, count, seed)
    fed, fired = asyncio.run(_play(workload, processor, clock, outbox, end))
    made = tuple(states.values())
    sizes = sorted(len(raw) for raw in made)
    open_journeys: dict[int, int] = {}
    for raw in made:
        count = len(CustomerState.from_bytes(raw).journeys)
        open_journeys[count] = open_journeys.get(count, 0) + 1
    return Templates(
        states=made,
        history_events=fed,
        fired_commands=fired,
        seconds=time.perf_counter() - started,
        mean_bytes=statistics.fmean(sizes),
        p99_bytes=float(sizes[int(len(sizes) * 0.99)]),
        max_bytes=float(sizes[-1]),
        open_journeys=tuple(sorted(open_journeys.items())),
    )


def _with_placeholder(template: bytes, shop_id: str, width: int) -> tuple[bytes, bytes]:
    """The template re-encoded for `shop_id` with a placeholder customer id of `width`
    characters, and that placeholder (which must occur exactly once in the bytes)."""
    state = CustomerState.from_bytes(template)
    placeholder = "~" * width
    state.shop_id = shop_id
    state.customer_id = placeholder
    raw, mark = state.to_bytes(), placeholder.encode()
    if raw.count(mark) != 1:
        raise RuntimeError(
            f"the customer id occurs {raw.count(mark)} times in an encoded state: "
            "cloning by byte replacement needs exactly one"
        )
    return raw, mark


def clones(
    states: Sequence[bytes], shop_id: str, customers: Iterable[int]
) -> Iterator[tuple[bytes, bytes]]:
    """(key, state) for each customer number n of `shop_id`: a copy of template
    n % len(states) with its own ids."""
    by_width: dict[int, list[tuple[bytes, bytes]]] = {}
    for n in customers:
        who = customer_id(n)
        encoded = by_width.get(len(who))
        if encoded is None:
            encoded = by_width[len(who)] = [
                _with_placeholder(raw, shop_id, len(who)) for raw in states
            ]
        raw, mark = encoded[n % len(states)]
        yield f"{shop_id}:{who}".encode(), raw.replace(mark, who.encode())


def check_clones(pairs: Iterable[tuple[bytes, bytes]], shop_id: str) -> None:
    """Decode cloned states back: the ids are the key's (else the bench seeds garbage)."""
    for key, raw in pairs:
        state = CustomerState.from_bytes(raw)
        if f"{state.shop_id}:{state.customer_id}".encode() != key or state.shop_id != shop_id:
            raise RuntimeError(f"clone {key!r} decodes as {state.shop_id}:{state.customer_id}")


@dataclass(frozen=True)
class Seeding:
    customers: int
    mib: float
    seconds: float
    topic: str


def seed(kafka: str, app_id: str, shop_id: str, states: Sequence[bytes], count: int) -> Seeding:
    """Create the worker's changelog topics (as `services.triggers.worker.run` does) and write
    `count` cloned states to the states table's, keyed and partitioned as the input."""
    settings = KafkaSettings(bootstrap_servers=kafka)
    partitions = input_partitions(settings, [spec.name for spec in INPUT_TOPICS])
    specs = changelog_topics(app_id, TABLES, partitions)
    create_topics(settings, specs)
    topic = next(spec.name for spec in specs if spec.name == f"{app_id}-{STATES_TABLE}-changelog")
    say(f"seeding {count:,} customer states onto {topic} ({partitions} partitions)")
    started = time.perf_counter()
    producer = Producer(
        {
            **settings.librdkafka_options(),
            "partitioner": "murmur2_random",  # the Java client's and aiokafka's, for keys
            "linger.ms": 50,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 500_000,
            "queue.buffering.max.kbytes": 1_048_576,
            "acks": 1,
        }
    )
    failures: list[str] = []
    mismatched: list[bytes] = []
    every = list(range(partitions))

    def failed(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            failures.append(str(err))

    def checked(err: KafkaError | None, msg: Message) -> None:
        failed(err, msg)
        key = msg.key()
        if (
            err is None
            and key is not None
            and msg.partition() != DefaultPartitioner()(key, every, every)
        ):
            mismatched.append(key)

    written = 0
    for n, (key, value) in enumerate(clones(states, shop_id, range(count))):
        if n < CHECKED_CLONES:
            check_clones([(key, value)], shop_id)
        while True:
            try:
                producer.produce(
                    topic, value, key, on_delivery=checked if n < CHECKED_CLONES else failed
                )
                break
            except BufferError:
                producer.poll(0.05)
        written += len(key) + len(value)
        if n % 10_000 == 0:
            producer.poll(0)
    if producer.flush(120) or failures or mismatched:
        raise RuntimeError(
            f"seeding failed: {failures[:3]} {len(failures)} errors, "
            f"{len(mismatched)} keys off their input partition"
        )
    return Seeding(count, written / 2**20, time.perf_counter() - started, topic)
