"""The cost of the ticks in which 10,000 profiles change segment by time alone, with 1,000,000
profiles in the tables against 20,000 (the segmenter issue's target: the ratio under 1.5, i.e.
the work follows the changes, not the population).

In-process, with the worker's own code, as tests/bench/triggers/timers.py measures the
triggers' ticks: the segmenter's `Processor`, `Evaluator` (shipped segments, an RFM book),
`TimerIndex`, dict tables, and an outbox that keeps the due commands for the processor and
counts what it publishes (the commands topic's broker round trip is not in the figures).

Setup, per size (both sizes in the same run, not timed):
- `templates` ordinary customers (population.customer, over four shops), stored and evaluated
  through the processor itself (a `TimerDue` command each), so that their memberships, entry
  counters and timers are the worker's; every profile of the population is one of them under
  its own customer id, encoded on its own, with the template's timer;
- `due` customers whose answer changes at a moment in the few seconds before they are built
  (population.about_to_change), evaluated an hour before it: the state the tables hold just
  before their time comes. They are the same customers at both sizes.
- `processor.recover()`, as after a rebalance: the timer index from the timer table, the RFM
  book from every profile.

One sample: the due customers' states and timers are put back (not timed), then timed: the
tick(s) popping them (`Processor.tick`, the worker's `max_due_per_tick`) and their
`TimerDue` commands through `processor.on_batch` in batches of the worker's `batch_max`
(evaluate, emit the segment changes and the profile, store). Each sample checks that every
due customer changed segment. Sizes alternate, the first rounds warm up; CPU time (the
process's) and wall time, median of the rest.
"""

from __future__ import annotations

import asyncio
import gc
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import msgspec

from services.segmenter.evaluation import Evaluator
from services.segmenter.processor import Processor, pack_due, unpack_due
from services.segmenter.profiles.model import Profile, decode, encode
from services.segmenter.rfm.book import RfmBook
from services.segmenter.rules.loader import SegmentCatalog
from services.segmenter.settings import SegmenterSettings
from shared import worker_commands as commands
from shared.clock import Clock, SystemClock
from shared.stream_batch import InputRecord, OutputRecord
from shared.timer_index import TimerIndex
from shared.topics import SEGMENTER_COMMANDS, SEGMENTS_CHANGES
from tests.bench.segmenter.population import DAY, KIND_WEIGHTS, KINDS, about_to_change, customer
from tests.support.clocks import PinnedClock

SHOPS = 4
WARMUP = 1
DUE_SPREAD_S = 5.0
"""The due customers' moments fall over the few seconds before they are built."""
EVALUATED_BEFORE_S = 3_600.0
"""How long before its moment a due customer was last evaluated."""
CALM_S = DAY
"""A template whose answer would change within this long of the setup is drawn again (so
that no other customer falls due during the samples)."""


@dataclass(frozen=True)
class TickCost:
    due: int
    small: int
    large: int
    samples: int
    small_cpu_us: float
    """One sample's CPU time: the ticks and the due commands through on_batch, median."""
    large_cpu_us: float
    small_wall_us: float
    large_wall_us: float
    small_tick_us: float
    """Of which the ticks alone (pop_due, send the commands), CPU, median."""
    large_tick_us: float
    changes: int
    """Segment changes emitted per sample."""
    setup_s: float
    profile_bytes_mean: float

    @property
    def ratio(self) -> float:
        return self.large_cpu_us / self.small_cpu_us

    @property
    def wall_ratio(self) -> float:
        return self.large_wall_us / self.small_wall_us


class LoopbackOutbox:
    """Due commands are kept for the processor (the worker's commands topic); published
    records are counted, and the keys that changed segment remembered."""

    def __init__(self) -> None:
        self.commands: list[tuple[bytes, bytes]] = []
        self.changes = 0
        self.changed: set[bytes] = set()

    async def publish_all(self, records: Sequence[OutputRecord]) -> None:
        for record in records:
            if record.topic == SEGMENTS_CHANGES.name and record.key is not None:
                self.changes += 1
                self.changed.add(record.key)

    async def send_command(self, key: bytes, value: bytes) -> None:
        self.commands.append((key, value))

    def reset(self) -> None:
        self.commands.clear()
        self.changes = 0
        self.changed.clear()


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def _processor(clock: Clock, outbox: LoopbackOutbox) -> Processor:
    settings = SegmenterSettings()
    return Processor(
        profiles={},
        timers={},
        index=TimerIndex(),
        evaluator=Evaluator(SegmentCatalog.load(None), RfmBook(), settings.rfm_rebuild_s),
        clock=clock,
        outbox=outbox,
    )


async def _through(processor: Processor, keys: Sequence[bytes], batch: int) -> None:
    """A `TimerDue` command for each key through `on_batch`, `batch` at a time."""
    due = commands.encode(commands.TimerDue())
    for start in range(0, len(keys), batch):
        chunk = keys[start : start + batch]
        await processor.on_batch(
            [
                InputRecord(SEGMENTER_COMMANDS.name, 0, start + n, key, due)
                for n, key in enumerate(chunk)
            ]
        )


def _settled(
    profiles: dict[bytes, Profile], at: float, batch: int
) -> dict[bytes, tuple[bytes, float | None]]:
    """Each profile as the worker stores it once evaluated at `at`: (bytes, timer)."""
    outbox = LoopbackOutbox()
    scratch = _processor(PinnedClock(datetime.fromtimestamp(at, UTC)), outbox)
    for key, profile in profiles.items():
        scratch.profiles[key] = encode(profile)
    asyncio.run(_through(scratch, list(profiles), batch))
    return {
        key: (scratch.profiles[key], unpack_due(t) if (t := scratch.timers.get(key)) else None)
        for key in profiles
    }


def _shop(n: int) -> str:
    return f"bench-ticks-{n % SHOPS + 1}"


Template = tuple[Profile, float | None]
"""An ordinary customer as the worker stores it (decoded), and its timer."""


def _templates(count: int, now: float, batch: int, rng: random.Random) -> list[Template]:
    """Ordinary customers as stored once evaluated at `now`, none of them due within CALM_S."""
    kept: list[Template] = []
    while len(kept) < count:
        drawn = {
            f"{_shop(n)}:template-{n}".encode(): customer(rng, _shop(n), f"template-{n}", now)
            for n in range(len(kept), count)
        }
        for raw, due in _settled(drawn, now, batch).values():
            if due is None or due > now + CALM_S:
                kept.append((decode(raw), due))
    return kept


DueState = tuple[bytes, bytes, float]
"""A due customer's key, stored state just before its moment, and timer."""


def _due_states(count: int, now: float, batch: int, rng: random.Random) -> list[DueState]:
    """`count` customers whose moments fall in the DUE_SPREAD_S before `now`, evaluated
    EVALUATED_BEFORE_S before that (so still in their old segments)."""
    moments: dict[bytes, float] = {}
    profiles: dict[bytes, Profile] = {}
    for n in range(count):
        shop, customer_id = _shop(n), f"due-{n}"
        key = f"{shop}:{customer_id}".encode()
        moments[key] = now - rng.uniform(0.5, DUE_SPREAD_S)
        kind = rng.choices(KINDS, KIND_WEIGHTS)[0]
        profiles[key] = about_to_change(rng, shop, customer_id, kind, moments[key])
    evaluated_at = now - DUE_SPREAD_S - EVALUATED_BEFORE_S
    states = []
    for key, (raw, due) in _settled(profiles, evaluated_at, batch).items():
        if due is None or abs(due - moments[key]) > 1e-3:
            raise RuntimeError(f"{key!r} is due at {due}, not at its moment {moments[key]}")
        states.append((key, raw, due))
    return states


def _fill(
    processor: Processor, size: int, templates: Sequence[Template], due: Sequence[DueState]
) -> None:
    """`size` profiles: the due ones, and the rest from the templates, each under its own id
    and encoded on its own; then the worker's recovery (timer index, RFM book)."""
    profiles, timers = processor.profiles, processor.timers
    for n in range(size - len(due)):
        template, at = templates[n % len(templates)]
        customer_id = f"cust-{n}"
        key = f"{template.shop_id}:{customer_id}".encode()
        profiles[key] = encode(msgspec.structs.replace(template, customer_id=customer_id))
        if at is not None:
            timers[key] = pack_due(at)
    for key, raw, at in due:
        profiles[key] = raw
        timers[key] = pack_due(at)
    asyncio.run(processor.recover())


@dataclass(frozen=True)
class _Sample:
    cpu_s: float
    wall_s: float
    tick_cpu_s: float
    changes: int


async def _sample(
    processor: Processor, outbox: LoopbackOutbox, due: Sequence[DueState], batch: int, limit: int
) -> _Sample:
    """Put the due customers back as they were just before their moment, then time the ticks
    that pop them and their commands through on_batch."""
    for key, raw, at in due:
        processor.profiles[key] = raw
        processor.timers[key] = pack_due(at)
        processor.index.set(key.decode(), at)
    outbox.reset()
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    fired = 0
    while fired < len(due):
        popped = await processor.tick(limit)
        if popped == 0:
            break
        fired += popped
    tick_cpu = time.process_time() - cpu
    keys = [key for key, _value in outbox.commands]
    await _through(processor, keys, batch)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if fired != len(due) or outbox.changed != {key for key, _raw, _at in due}:
        raise RuntimeError(
            f"{fired} popped, {len(outbox.changed)} changed segment; expected {len(due)} each"
        )
    return _Sample(cpu, wall, tick_cpu, outbox.changes)


def tick_cost(small: int, large: int, due: int, templates: int, repeat: int) -> TickCost:
    settings = SegmenterSettings()
    batch, limit = settings.batch_max, settings.max_due_per_tick
    rng = random.Random(21)
    began = time.monotonic()
    say(f"tick cost: {due:,} profiles change segment by time, among {small:,} and {large:,}")
    now = time.time()
    say(f"  {templates:,} ordinary customers, evaluated by the processor")
    ordinary = _templates(templates, now, batch, rng)
    say(f"  {due:,} customers about to change, as stored an hour before their moment")
    due_states = _due_states(due, time.time(), batch, rng)
    sizes: dict[int, tuple[Processor, LoopbackOutbox]] = {}
    for size in (small, large):
        say(f"  filling the tables with {size:,} profiles; recover (timer index, RFM book)")
        outbox = LoopbackOutbox()
        processor = _processor(SystemClock(), outbox)
        _fill(processor, size, ordinary, due_states)
        sizes[size] = processor, outbox
    stored = sizes[large][0].profiles.values()
    mean_bytes = sum(len(raw) for raw in stored) / len(stored)
    setup = time.monotonic() - began
    say(f"  setup took {setup:.0f} s; timing {repeat} samples per size after {WARMUP} warm-up")
    samples: dict[int, list[_Sample]] = {small: [], large: []}

    async def rounds() -> None:
        for r in range(repeat + WARMUP):
            for size, (processor, outbox) in sizes.items():
                sample = await _sample(processor, outbox, due_states, batch, limit)
                if r >= WARMUP:
                    samples[size].append(sample)

    asyncio.run(rounds())

    def median(size: int, field: str) -> float:
        return statistics.median(float(getattr(s, field)) for s in samples[size]) * 1e6

    return TickCost(
        due=due,
        small=small,
        large=large,
        samples=repeat,
        small_cpu_us=median(small, "cpu_s"),
        large_cpu_us=median(large, "cpu_s"),
        small_wall_us=median(small, "wall_s"),
        large_wall_us=median(large, "wall_s"),
        small_tick_us=median(small, "tick_cpu_s"),
        large_tick_us=median(large, "tick_cpu_s"),
        changes=samples[large][0].changes,
        setup_s=setup,
        profile_bytes_mean=mean_bytes,
    )
