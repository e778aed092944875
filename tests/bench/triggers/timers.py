"""Timer firing lateness with 1,000,000 pending timers, and the cost of one tick by size.

In-process, with the worker's own code: `Processor`, `TimerIndex`, the decision functions and
the default catalog, the tables as dicts and an outbox that hands the due commands straight
back to the processor (the worker sends them through triggers.commands.v1: that broker round
trip, and competing with a backlog of input events, are *not* in these figures; the
end-to-end worker figures are the throughput ones).

Lateness: every customer has a pending step, as 1,000,000 customers with an abandoned cart
would. Most are due hours ahead (they only weigh on the index); `fires` of them are due at
random whole seconds over a `window` starting shortly after setup, each with a real state made
by decide() (customer.created, then cart.updated 30 minutes before the due time). A tick loop
at the worker's interval pops what is due and the processor fires it; lateness is the wall
time the trigger.fired record reached the outbox minus the step's due time (time scale 1).
Due times are whole seconds (states keep epoch seconds), so lateness includes up to one tick
interval of waiting by design.

Tick cost: an index of n pending timers of which k are due; one `Processor.tick` (pop the k
due entries, send k commands to an outbox that keeps nothing), timed `repeat` times at each
size with the same k (sizes alternating, after a warm-up), median reported; and `pop_due`
alone, the part whose cost depends on n.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

import orjson

from services.triggers.campaigns import CampaignCatalog
from services.triggers.journeys import decide
from services.triggers.processor import Processor
from services.triggers.settings import TriggersSettings
from shared.clock import SystemClock
from shared.events import parse_shop_event
from shared.state_table import MemoryStateTable
from shared.stream_batch import OutputRecord
from shared.timer_index import TimerIndex
from shared.topics import TRIGGERS_COMMANDS, TRIGGERS_FIRED
from tests.bench.triggers.workload import Workload

CART_REMINDER_DELAY_S = 30 * 60
"""The default catalog's first abandoned-cart reminder."""


@dataclass(frozen=True)
class Lateness:
    pending: int
    fired: int
    expected: int
    window_s: float
    tick_interval_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    setup_s: float


@dataclass(frozen=True)
class TickCost:
    due: int
    small: int
    large: int
    small_us: float
    large_us: float
    small_pop_us: float
    """TimerIndex.pop_due alone (the part that depends on the number pending)."""
    large_pop_us: float

    @property
    def ratio(self) -> float:
        return self.large_us / self.small_us

    @property
    def pop_ratio(self) -> float:
        return self.large_pop_us / self.small_pop_us


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


class LoopbackOutbox:
    """Commands go back to the processor through a queue (the worker's commands topic);
    fired triggers are timed against their due time."""

    def __init__(self) -> None:
        self.commands: asyncio.Queue[tuple[bytes, bytes]] = asyncio.Queue()
        self.lateness_s: list[float] = []

    async def publish_all(self, records: Sequence[OutputRecord]) -> None:
        for record in records:
            if record.topic == TRIGGERS_FIRED.name:
                fired = orjson.loads(record.value)
                if fired["type"] == "trigger.fired":
                    due = datetime.fromisoformat(fired["data"]["due_at"]).timestamp()
                    self.lateness_s.append(time.time() - due)

    async def send_command(self, key: bytes, value: bytes) -> None:
        self.commands.put_nowait((key, value))


class DroppingOutbox:
    async def publish_all(self, records: Sequence[OutputRecord]) -> None:
        return None

    async def send_command(self, key: bytes, value: bytes) -> None:
        return None


def _due_state(workload: Workload, catalog: CampaignCatalog, customer: int, due: int) -> bytes:
    """A customer whose abandoned-cart reminder 1 falls due at `due` (epoch seconds)."""
    person = workload.customers[customer]
    signed_up = datetime.fromtimestamp(due - CART_REMINDER_DELAY_S - 600, UTC)
    carted = datetime.fromtimestamp(due - CART_REMINDER_DELAY_S, UTC)
    state = None
    for kind, when in (("customer.created", signed_up), ("cart.updated", carted)):
        _key, value = workload.record_for(person, kind, when)
        state = decide(state, parse_shop_event(value), when, catalog).state
    assert state is not None
    next_due = state.next_due_at()
    assert next_due is not None and int(next_due.timestamp()) == due, (next_due, due)
    return state.to_bytes()


def _fill(
    processor: Processor,
    workload: Workload,
    catalog: CampaignCatalog,
    fires: int,
    start: float,
    window: float,
    rng: random.Random,
) -> None:
    template = _due_state(workload, catalog, len(workload.customers) - 1, int(start + 86_400))
    states = cast(MemoryStateTable, processor.states)
    due_soon = set(rng.sample(range(len(workload.customers) - 1), fires))
    first, last = int(start) + 1, int(start + window)
    for n, person in enumerate(workload.customers):
        key = f"{workload.shop_id}:{person.customer_id}".encode()
        if n in due_soon:
            due = rng.randint(first, last)
            states.data[key] = _due_state(workload, catalog, n, due)
        else:
            due = int(start) + rng.randint(3_600, 72 * 3_600)
            states.data[key] = template  # never read: only its timer weighs on the index
        processor.index.set(key.decode(), float(due))  # as the rebuild from the states sets it


def lateness(pending: int, fires: int, window: float) -> Lateness:
    settings = TriggersSettings()
    catalog = CampaignCatalog.load(None)
    rng = random.Random(11)
    outbox = LoopbackOutbox()
    processor = Processor(
        states=MemoryStateTable(),
        index=TimerIndex(),
        catalog=catalog,
        clock=SystemClock(),
        outbox=outbox,
    )
    say(f"lateness: {pending:,} pending timers, {fires:,} of them due over {window:.0f} s")
    began = time.monotonic()
    workload = Workload("bench-timers", pending)
    lead = 5.0 + pending / 100_000 + fires / 1_000  # room for the setup below
    start = time.time() + lead
    _fill(processor, workload, catalog, fires, start, window, rng)
    setup = time.monotonic() - began
    if time.time() >= start:
        raise RuntimeError(f"setup took {setup:.0f} s, longer than the {lead:.0f} s planned")
    if len(processor.index) != pending:
        raise RuntimeError(f"{len(processor.index)} timers pending, expected {pending}")

    async def agent() -> None:
        offset = 0
        while True:
            key, value = await outbox.commands.get()
            await processor.on_record(TRIGGERS_COMMANDS.name, 0, offset, key, value)
            outbox.commands.task_done()
            offset += 1

    async def ticks(until: float) -> None:
        while time.time() < until:
            await processor.tick(settings.max_fires_per_tick)
            await asyncio.sleep(settings.tick_interval_s)

    async def main() -> None:
        worker = asyncio.create_task(agent())
        await ticks(start + window + 2.0)
        await outbox.commands.join()
        worker.cancel()

    asyncio.run(main())
    late = sorted(outbox.lateness_s)
    if not late:
        raise RuntimeError("no trigger fired")
    q = statistics.quantiles(late, n=100, method="inclusive")
    return Lateness(
        pending=pending,
        fired=len(late),
        expected=fires,
        window_s=window,
        tick_interval_s=settings.tick_interval_s,
        p50_ms=q[49] * 1000,
        p90_ms=q[89] * 1000,
        p99_ms=q[98] * 1000,
        max_ms=late[-1] * 1000,
        setup_s=setup,
    )


def _processor(pending: int, due: int, rng: random.Random) -> Processor:
    """An index of `pending - due` timers hours ahead (the `due` ones are added per sample)."""
    processor = Processor(
        states=MemoryStateTable(),
        index=TimerIndex(),
        catalog=CampaignCatalog.load(None),
        clock=SystemClock(),
        outbox=DroppingOutbox(),
    )
    now = time.time()
    for n in range(pending - due):
        processor.index.set(f"bench:future-{n}", now + rng.uniform(3_600, 72 * 3_600))
    return processor


async def _sample(
    processor: Processor, pending: int, due: int, tag: str, rng: random.Random
) -> tuple[float, float]:
    """(one tick, one pop_due alone) in seconds, each with `due` entries due."""
    index, now = processor.index, time.time()
    for n in range(due):
        index.set(f"bench:due-{tag}-{n}", now - rng.uniform(0, 1))
    started = time.perf_counter()
    fired = await processor.tick(due)
    tick = time.perf_counter() - started
    for n in range(due):
        index.set(f"bench:pop-{tag}-{n}", now - rng.uniform(0, 1))
    started = time.perf_counter()
    popped = len(index.pop_due(time.time(), due))
    pop = time.perf_counter() - started
    if fired != due or popped != due or len(index) != pending - due:
        raise RuntimeError(f"tick fired {fired}, pop_due {popped}, expected {due}")
    return tick, pop


async def _tick_costs(small: int, large: int, due: int, repeat: int) -> TickCost:
    rng = random.Random(5)
    sizes = {small: _processor(small, due, rng), large: _processor(large, due, rng)}
    ticks: dict[int, list[float]] = {small: [], large: []}
    pops: dict[int, list[float]] = {small: [], large: []}
    for r in range(repeat + 3):  # the first 3 rounds warm up; sizes alternate against drift
        for size, processor in sizes.items():
            tick, pop = await _sample(processor, size, due, f"{r}", rng)
            if r >= 3:
                ticks[size].append(tick)
                pops[size].append(pop)
    return TickCost(
        due=due,
        small=small,
        large=large,
        small_us=statistics.median(ticks[small]) * 1e6,
        large_us=statistics.median(ticks[large]) * 1e6,
        small_pop_us=statistics.median(pops[small]) * 1e6,
        large_pop_us=statistics.median(pops[large]) * 1e6,
    )


def tick_cost(small: int, large: int, due: int, repeat: int) -> TickCost:
    say(f"tick cost: {due:,} due among {small:,} and among {large:,} pending timers")
    return asyncio.run(_tick_costs(small, large, due, repeat))
