"""One e2e run: stack up, load and faults, drain, measurements collected, stack down.
Everything the run learnt is written as JSON in its folder (.local/e2e/runs/<stamp>/)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from sqlalchemy import text

from services.simulator.command import Plan, preparation_s
from services.simulator.shops import DEFAULT_SHOPS, parse_shops
from shared.db.engine import make_engine
from shared.settings import DatabaseSettings
from shared.topics import SEGMENTS_CHANGES
from tests.e2e.compare import RECOVERY_S
from tests.e2e.harness import figures, infra, load, poison
from tests.e2e.harness.faults import Faults
from tests.e2e.harness.lag import CatchUp
from tests.e2e.harness.layout import E2E_DIR, Layout, Ports
from tests.e2e.harness.sampler import Sampler
from tests.e2e.harness.schedule import PlannedFault, Scenario, duplicate_rate, plan_faults
from tests.e2e.harness.services import service_specs
from tests.e2e.harness.supervisor import Exit, Supervisor
from tests.e2e.harness.topics_read import read_all
from tests.e2e.model import ClockMap, Fault

START_LEAD_S = 3.0
"""Wall seconds between the simulator's launch and its first action, past the population's
preparation (shops are registered before it starts)."""


@dataclass(frozen=True)
class RunOptions:
    customers: int = 100_000
    days: float = 7.0
    seed: int = 7
    scale: float = 120.0
    """A simulated week in 84 minutes of wall time: 100,000 customers' week at a rate this
    machine sustains with room for the faults (mk/e2e.mk)."""
    rate: float = 2000.0
    scenario: Scenario = Scenario.ALL
    short: bool = False
    drain_days: float = 1.0
    """Simulated time the clock runs on after the last action (steps due after it)."""
    drain_timeout_s: float = 300.0
    """Wall seconds past the drain's end to wait for lag 0 and an empty queue."""
    floor: bool = True
    """Measure Kafka's own producer rate against the stack's broker after the run."""
    base_port: int = 18080


MESSAGE_LOG_FILE = "dispatch-messages.jsonl"
"""Dispatch's message log at the end of the run, one row per line."""
SEGMENT_CHANGES_FILE = "segments.changes.jsonl"
"""Every record of segments.changes.v1 at the end of the run, one per line."""
MARGIN_WALL_S = 3.0
"""Wall seconds of latency within which the oracle leaves the order of two things to the
system (its `margin` is this times the scale). A simulator that sends later than this has
overloaded the machine: the comparison then measures the overload, not Nudge."""


def late_outside_faults(simulator: dict[str, Any], faults: list[Fault]) -> dict[int, float]:
    """Wall seconds in which the simulator started a request later than the margin, outside
    every fault and its recovery (a broker restart makes ingest answer 503, and the customer's
    next requests wait for the retries: that lateness is the fault's, not the machine's)."""
    late = {int(k): float(v) for k, v in dict(simulator.get("late_by_second") or {}).items()}
    windows = [
        (f.started_at.timestamp() - 1.0, f.ended_at.timestamp() + RECOVERY_S) for f in faults
    ]
    return {
        second: most
        for second, most in late.items()
        if most > MARGIN_WALL_S and not any(a <= second <= b for a, b in windows)
    }


@dataclass
class RunResult:
    run_dir: Path
    plan: Plan
    clock: ClockMap
    until: datetime
    """Simulated end of observation: when dispatch's sender was stopped."""
    replies_until: datetime | None
    """Simulated time the simulator's inboxes stopped answering (the simulator's end)."""
    faults: list[Fault]
    planned: list[PlannedFault]
    exits: list[Exit]
    poison: list[poison.Parked]
    simulator: dict[str, Any]
    simulator_status: int | None
    drained: bool
    waiting_messages: int | None
    figures: figures.Figures
    wall_s: dict[str, float] = field(default_factory=dict)

    @property
    def crashes(self) -> list[Exit]:
        return [e for e in self.exits if e.cause == "crash"]

    def violations(self) -> list[str]:
        """The harness's own acceptance failures (the oracle comparison adds its own)."""
        found = [
            f"{e.name} crashed (exit {e.code}) at {datetime.fromtimestamp(e.at, UTC):%H:%M:%S}"
            for e in self.crashes
        ]
        found += [
            f"poison record ({p.kind}) on {p.topic} [{p.partition}@{p.offset}] not dead-lettered"
            for p in self.poison
            if not p.ok
        ]
        if self.simulator_status != 0:
            found.append(f"the simulator ended with status {self.simulator_status}")
        overloaded = late_outside_faults(self.simulator, self.faults)
        if overloaded:
            found.append(
                f"overloaded: the simulator was late by more than the {MARGIN_WALL_S:g} s margin "
                f"in {len(overloaded)} wall seconds no fault explains (up to "
                f"{max(overloaded.values()):.1f} s): fewer customers or a slower clock (--scale)"
            )
        if not self.drained:
            found.append(
                f"not drained: lag {self.figures.lag_after}, "
                f"{self.waiting_messages} messages still due"
            )
        found += [
            f"fault {f.kind} on {f.target}: {f.detail}"
            for f in self.faults
            if f.detail.startswith("could not")
        ]
        return found

    def as_json(self) -> dict[str, Any]:
        return {
            "run_dir": str(self.run_dir),
            "plan": {
                "seed": self.plan.seed,
                "customers": self.plan.customers,
                "days": self.plan.days,
                "start": self.plan.start.isoformat(),
                "shops": {shop: fmt.value for shop, fmt in self.plan.shops},
            },
            "clock": asdict(self.clock),
            "until": self.until.isoformat(),
            "replies_until": None if self.replies_until is None else self.replies_until.isoformat(),
            "planned_faults": [asdict(f) for f in self.planned],
            "faults": [
                {
                    **asdict(f),
                    "started_at": f.started_at.isoformat(),
                    "ended_at": f.ended_at.isoformat(),
                }
                for f in self.faults
            ],
            "exits": [asdict(e) for e in self.exits],
            "poison": [p.as_json() for p in self.poison],
            "simulator": self.simulator,
            "simulator_status": self.simulator_status,
            "drained": self.drained,
            "waiting_messages": self.waiting_messages,
            "figures": self.figures.as_json(),
            "wall_s": self.wall_s,
            "violations": self.violations(),
        }


def new_run_dir(base: Path = E2E_DIR) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = base / "runs" / stamp
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    return run_dir


async def waiting_messages(layout: Layout, until: datetime) -> int:
    """Messages dispatch still has to send by `until` (campaign time), from its log."""
    engine = make_engine(DatabaseSettings(url=SecretStr(layout.database_url)))
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(
                text(
                    "SELECT count(*) FROM messages WHERE state IN ('queued', 'deferred',"
                    " 'retrying') AND next_attempt_at <= :until"
                ),
                {"until": until},
            )
        return int(count or 0)
    finally:
        await engine.dispose()


async def dump_message_log(layout: Layout, path: Path) -> int:
    """Dispatch's message log as JSON lines: what it decided of every trigger it received
    (printed beside a discrepancy's history). Returns the number of rows."""
    engine = make_engine(DatabaseSettings(url=SecretStr(layout.database_url)))
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text(
                    "SELECT trigger_id, shop_id, customer_id, campaign_id, step_id, state,"
                    " channel, message_id, reason, attempts, created_at, sent_at"
                    " FROM messages ORDER BY created_at"
                )
            )
            lines = [json.dumps(dict(row._mapping), default=str) + "\n" for row in rows]
        await asyncio.to_thread(path.write_text, "".join(lines))
        return len(lines)
    finally:
        await engine.dispose()


async def _drain(
    layout: Layout, sampler: Sampler, clock: ClockMap, until: datetime, timeout_s: float
) -> tuple[bool, int | None, float | None]:
    """Wait until the clock reached `until`, every group has caught up (lag.CatchUp) and
    nothing is due; (drained, messages still due, when the groups first caught up after the
    load)."""
    end_wall = clock.wall(until).timestamp()
    deadline = end_wall + timeout_s
    caught_up: float | None = None
    loaded, settled = CatchUp(), CatchUp()
    due: int | None = None
    while time.time() < deadline:
        offsets = sampler.last_offsets()
        if offsets is not None:
            if loaded.observe(*offsets):
                caught_up = caught_up or time.time()
            if time.time() >= end_wall and settled.observe(*offsets):
                with contextlib.suppress(Exception):
                    due = await waiting_messages(layout, until)
                if due == 0:
                    return True, due, caught_up
        await asyncio.sleep(1.0)
    return False, due, caught_up


def _floor(layout: Layout, record_size: int) -> float | None:
    """Kafka's own producer against the stack's broker (tests/bench/broker.py)."""
    from tests.bench.broker import producer_performance, scratch_topic

    try:
        with scratch_topic(layout.bootstrap, 12, prefix="e2e.floor") as topic:
            rate = producer_performance(
                layout.bootstrap, topic, records=300_000, warmup=50_000, record_size=record_size
            )
        return rate.records_per_s
    except Exception as exc:
        print(f"e2e: the producer floor could not be measured: {exc}")
        return None


def _log(message: str) -> None:
    print(f"e2e [{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


async def run(options: RunOptions, run_dir: Path | None = None) -> RunResult:
    run_dir = run_dir or new_run_dir()
    layout = Layout(run_dir, Ports(base=options.base_port))
    walls: dict[str, float] = {}
    _log(f"run folder {run_dir}")
    walls["stack_up"] = await asyncio.to_thread(infra.up, layout)
    _log(
        f"Kafka on :{layout.ports.kafka}, PostgreSQL on :{layout.ports.postgres} "
        f"in {walls['stack_up']:.1f} s"
    )
    clock = ClockMap(origin=round(time.time(), 3), scale=options.scale)
    supervisor = Supervisor(service_specs(layout, clock), layout.logs_dir)
    sampler: Sampler | None = None
    try:
        started = time.monotonic()
        await supervisor.start_all()
        walls["services_up"] = time.monotonic() - started
        _log(f"{len(supervisor.specs)} processes ready in {walls['services_up']:.1f} s")
        lead = preparation_s(options.customers) + START_LEAD_S
        start = clock.simulated(datetime.fromtimestamp(time.time() + lead, UTC))
        plan = Plan(
            seed=options.seed,
            customers=options.customers,
            days=options.days,
            start=start.replace(microsecond=0),
            shops=parse_shops(DEFAULT_SHOPS),
        )
        until = plan.start + timedelta(days=options.days + options.drain_days)
        await load.register_shops(layout, plan)
        rejected = await asyncio.to_thread(load.bouncing, plan)
        async with httpx.AsyncClient(timeout=10) as client:
            answer = await client.post(
                f"http://127.0.0.1:{layout.ports.smtp_control}/control", json={"reject": rejected}
            )
            answer.raise_for_status()
        await asyncio.sleep(1.5)  # ingest reloads credentials every second
        load_s = options.days * 86400 / clock.scale
        planned = plan_faults(options.scenario, options.seed, load_s, short=options.short)
        sampler = Sampler(
            layout.bootstrap,
            layout.metrics_file,
            supervisor.pids,
            {"smtp": layout.smtp_log, "sms": layout.sms_log},
        )
        sampler.start()
        inbox = await asyncio.to_thread(load.has_inbox_options)
        argv = load.simulate_argv(
            layout,
            plan,
            clock,
            rate=options.rate,
            duplicate_rate=duplicate_rate(options.scenario),
            linger_s=options.drain_days * 86400 / clock.scale,
            inbox=inbox,
        )
        (run_dir / "simulate.argv.json").write_text(json.dumps(argv, indent=1))
        proc, summary_file = await load.start_simulator(layout, argv, clock)
        load_started = clock.wall(plan.start).timestamp()
        _log(
            f"simulator started (pid {proc.pid}, inbox {'on' if inbox else 'off'}): "
            f"{plan.customers:,} customers, {plan.days:g} days from {plan.start:%Y-%m-%d %H:%M}"
            f", {load_s:.0f} s of load, {len(planned)} faults"
        )
        faults = Faults(layout, supervisor)
        fault_task = asyncio.create_task(faults.play(planned, load_started))
        status = await proc.wait()
        replies_until = clock.simulated(datetime.now(UTC)) if inbox else None
        walls["load"] = time.time() - load_started
        _log(f"simulator done (status {status}) after {walls['load']:.1f} s")
        await fault_task
        drained, due, caught_up = await _drain(
            layout, sampler, clock, until, options.drain_timeout_s
        )
        walls["drain"] = time.time() - load_started - walls["load"]
        _log(f"drained: {drained} (messages due {due}) after {walls['drain']:.1f} s more")
        # Observation ends when the sender stops: what it sent by then is what the oracle
        # must account for, however long the drain went past the planned `until`.
        observed_until = clock.simulated(datetime.now(UTC))
        await supervisor.stop("dispatch-sender")
        with contextlib.suppress(Exception):
            await dump_message_log(layout, run_dir / MESSAGE_LOG_FILE)
        # The segmenter's decisions, as published: the oracle takes them as input.
        changes = await asyncio.to_thread(read_all, layout.bootstrap, {SEGMENTS_CHANGES.name})
        (run_dir / SEGMENT_CHANGES_FILE).write_bytes(b"".join(v + b"\n" for v in changes))
        parked: list[poison.Parked] = []
        if faults.poison_sent:
            parked = await asyncio.to_thread(poison.check, layout.bootstrap, faults.poison_sent)
        try:
            summary = json.loads(summary_file.read_text() or "{}")
        except json.JSONDecodeError:
            summary = {}
        await sampler.stop()
        floor = await asyncio.to_thread(_floor, layout, 1024) if options.floor else None
        throughput = figures.Throughput(
            events=int(summary.get("events_accepted", 0)),
            load_s=walls["load"],
            caught_up_s=(caught_up - load_started) if caught_up else None,
            simulator_events_per_s=float(summary.get("events_per_s", 0.0)),
            floor_events_per_s=floor,
        )
        lag_series = sampler.lag_series()
        last = sampler.last_lag()
        measured = figures.Figures(
            throughput,
            figures.fault_figures(faults.done, lag_series, time.time()),
            figures.service_costs(
                sampler.totals.cpu_s(), sampler.totals.peak_rss_kb, throughput.events
            ),
            None if last is None else sum(last.values()),
        )
        return RunResult(
            run_dir,
            plan,
            clock,
            observed_until,
            replies_until,
            faults.done,
            planned,
            supervisor.exits,
            parked,
            summary,
            status,
            drained,
            due,
            measured,
            walls,
        )
    finally:
        if sampler is not None:
            await sampler.stop()
        await supervisor.stop_all()
        await asyncio.to_thread(infra.down, layout)


def write_result(result: RunResult) -> Path:
    path = result.run_dir / "result.json"
    path.write_text(json.dumps(result.as_json(), indent=1, default=str))
    return path
