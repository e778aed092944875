"""The triggers benchmark's table: measure | result | target, as the ingest one prints it.

Targets (from the triggers issue) are shown as met or missed; nothing fails on them.
"""

from __future__ import annotations

from tests.bench.report import Machine
from tests.bench.triggers.population import Templates
from tests.bench.triggers.throughput import (
    Breakdown,
    Floor,
    PairRun,
    Reference,
    Results,
    WorkerRun,
)
from tests.bench.triggers.timers import Lateness, TickCost
from tests.bench.triggers.workload import HISTORY

TARGET_FLOOR_SHARE = 0.5
"""The worker's events/s, at least this share of the Faust floor's (records only)."""
TARGET_SIZE_RATIO = 1.3
"""CPU per event at the large table size over the small one: at most this."""
TARGET_PAIR_RATIO = 1.3
"""CPU per event with two workers over one: at most this (flat, within the size tolerance)."""
STALL_S = 10.0
"""A pause this long without a record done is a stall: the run's rate then says little."""
TARGET_P99_MS = 1_000.0
TARGET_TICK_RATIO = 1.5


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def row(measure: str, result: str, target: str = "") -> str:
    return f"  {measure:<34} {result:>16}   {target}".rstrip()


def row2(measure: str, first: str, second: str, note: str = "") -> str:
    """Two results side by side (small | large, one worker | two)."""
    return f"  {measure:<34} {first:>16} {second:>20}   {note}".rstrip()


def _floor_kind(floor: Floor) -> str:
    if floor.batched:
        return "each record written to a table as the worker writes: a changelog batch"
    if floor.table:
        return "each record written with Faust's table API: a changelog message each"
    return "an agent doing nothing"


def bare_floor(reference: Reference) -> Floor:
    return next(f for f in reference.floors if not f.table)


JOURNEY_BUCKETS = ((0, 0), (1, 1), (2, 4), (5, 9), (10, None))


def _journeys(counts: tuple[tuple[int, int], ...]) -> str:
    """The share of the templates by open journeys, in JOURNEY_BUCKETS."""
    total = sum(n for _, n in counts) or 1
    parts = []
    for lo, hi in JOURNEY_BUCKETS:
        n = sum(c for j, c in counts if j >= lo and (hi is None or j <= hi))
        label = f"{lo}+" if hi is None else (f"{lo}" if lo == hi else f"{lo}-{hi}")
        parts.append(f"{label}: {n / total:.0%}")
    return ", ".join(parts)


def _templates(t: Templates) -> str:
    lengths = ", ".join(f"{share:.0%} {lo}-{hi}" for share, lo, hi in HISTORY)
    most = max((j for j, _ in t.open_journeys), default=0)
    opened = (
        f"; open journeys {_journeys(t.open_journeys)} (at most {most})" if t.open_journeys else ""
    )
    return (
        f"  seeded states: copies of {len(t.states):,} customers whose histories (events after "
        f"sign-up: {lengths}) went through the Processor, ticking, over 60 days;\n"
        f"    state {t.mean_bytes:,.0f} B mean, {t.p99_bytes:,.0f} B p99, "
        f"{t.max_bytes:,.0f} B max{opened}"
    )


def cores(busy: float | None) -> str:
    return f"{busy:.2f} cores" if busy is not None else "n/a"


def stalled(*runs: WorkerRun | None) -> str:
    """Which runs stalled (see STALL_S)."""
    slow = [f"{w.customers:,}" for w in runs if w is not None and w.longest_pause_s > STALL_S]
    return f"with {' and '.join(slow)} customers: the rate says little" if slow else "none"


def _column(w: WorkerRun | None, value: str) -> str:
    return value if w is not None else "-"


def _runs(r: Results) -> list[str]:
    s, big, ref = r.small, r.large, r.reference
    bare = bare_floor(ref)

    def both(fmt: str, attr: str) -> tuple[str, str]:
        return (
            fmt.format(getattr(s, attr)),
            fmt.format(getattr(big, attr)) if big is not None else "-",
        )

    def share(w: WorkerRun | None) -> str:
        return f"{w.events_per_s / bare.events_per_s:.1%}" if w is not None else "-"

    def busy(w: WorkerRun | None) -> str:
        if w is None:
            return "-"
        broker = f"{w.broker_cores_busy:.2f}" if w.broker_cores_busy is not None else "n/a"
        return f"{w.cores_busy:.2f} / {broker}"

    def seeded(w: WorkerRun | None) -> str:
        if w is None or w.seeding is None:
            return "-"
        return f"{w.seeding.seconds:.1f} s, {w.seeding.mib:,.0f} MiB"

    def timed(w: WorkerRun | None) -> str:
        return f"{w.measured_events:,} in {w.seconds:.1f} s" if w is not None else "-"

    def outside(w: WorkerRun | None, b: Breakdown | None) -> float | None:
        return w.cpu_us_per_event - b.us_per_event if w is not None and b is not None else None

    out_small, out_large = outside(s, r.breakdown), outside(big, r.breakdown_large)
    shares_met = [w.events_per_s / bare.events_per_s >= TARGET_FLOOR_SHARE for w in (s, big) if w]
    ratio = r.size_ratio
    lines = [
        "",
        f"Triggers worker  python -m services.triggers, RocksDB tables, the default catalog; per "
        f"run {s.events:,} shop events ({s.record_bytes:.0f} B mean record) for seeded customers",
        _templates(r.templates),
        row2(
            "customers in the states table",
            f"{s.customers:,}",
            _column(big, f"{big.customers:,}" if big else ""),
        ),
        row2("events/s", *both("{:,.0f}", "events_per_s")),
        row2("worker CPU per event", *both("{:,.0f} us", "cpu_us_per_event")),
        row2(
            "worker / Faust floor, events/s",
            share(s),
            share(big),
            f"target >= {TARGET_FLOOR_SHARE:.0%}: {verdict(all(shares_met))}",
        ),
        row2(
            "Faust floor / worker, CPU per event",
            f"{bare.cpu_us_per_event / s.cpu_us_per_event:.1%}",
            f"{bare.cpu_us_per_event / big.cpu_us_per_event:.1%}" if big is not None else "-",
            "the share of the worker's CPU that Faust's own accounts for",
        ),
        row2("cores busy: worker / broker", busy(s), busy(big), "same window"),
        row2(
            "rest of the machine, same window",
            cores(s.others_cores_busy),
            cores(big.others_cores_busy) if big is not None else "-",
            "other processes, this program included: the less, the cleaner the figures",
        ),
        row2("timed", timed(s), timed(big)),
        row2(
            "longest pause in progress",
            *both("{:.1f} s", "longest_pause_s"),
            f"stalls (over {STALL_S:.0f} s): {stalled(s, big)}",
        ),
        row2("seeding the changelog (not timed)", seeded(s), seeded(big)),
        row2(
            "start-up until the first record",
            *both("{:.1f} s", "startup_s"),
            "recovery of the states included; not timed",
        ),
        row2("worker peak RSS (VmHWM)", *both("{:,.0f} MiB", "peak_rss_mib")),
        row2(
            "dead-lettered",
            *both("{:,}", "dead_lettered"),
            "should be 0 (others' records on the shared topic count too)",
        ),
    ]
    if ratio is not None and big is not None:
        lines.append(
            row(
                f"CPU per event, {big.customers:,} / {s.customers:,}",
                f"{ratio:.2f}",
                f"target <= {TARGET_SIZE_RATIO}: {verdict(ratio <= TARGET_SIZE_RATIO)}",
            )
        )
    if out_small is not None and out_large is not None:
        lines.append(
            row(
                "  the same, outside the Processor",
                f"{out_large / out_small:.2f}",
                f"worker minus in-process CPU per event, {out_small:,.0f} / {out_large:,.0f} us: "
                "Faust, RocksDB, Kafka (the in-process part follows the state sizes below)",
            )
        )
    lines += [
        *(
            row(
                "Faust floor"
                + (
                    " + batched writes"
                    if f.batched
                    else " + a table write"
                    if f.table
                    else ", records only"
                ),
                f"{f.events_per_s:,.0f}",
                f"events/s, {f.cpu_us_per_event:,.0f} us CPU per event ({_floor_kind(f)}; "
                f"the {s.customers:,}-customer run's records)",
            )
            for f in ref.floors
        ),
        row(
            "reference: plain aiokafka consumer",
            f"{ref.events_per_s:,.0f}",
            "events/s, same records, no processing",
        ),
        row2(
            "in-process Processor, no Kafka/Faust",
            f"{r.breakdown.us_per_event:,.0f} us",
            f"{r.breakdown_large.us_per_event:,.0f} us" if r.breakdown_large else "-",
            "CPU per event, the same records over the same states in a dict "
            "(parse, decide, state, actions)",
        ),
        row2(
            "mean state size after the run",
            f"{r.state_bytes_after_small:,.0f} B",
            f"{r.state_bytes_after_large:,.0f} B" if r.state_bytes_after_large else "-",
            f"of the customers the records touched (in process); {r.templates.mean_bytes:,.0f} B "
            "seeded",
        ),
        row("producing the input (aiokafka)", f"{s.produced_per_s:,.0f}", "records/s"),
    ]
    return lines


def _pair(p: PairRun, one: WorkerRun, cpus: int) -> list[str]:
    ratio = p.cpu_us_per_event / one.cpu_us_per_event
    broker = p.broker_cores_busy or 0.0
    bound = max(cpus - broker, 0.0) / (p.cpu_us_per_event / 1e6)
    per_core = 1e6 / p.cpu_us_per_event

    return [
        "",
        f"Two workers  one app id, two processes splitting the partitions; {p.customers:,} "
        f"seeded customers, a fresh backlog of {p.events:,} events produced once both were ready",
        row2("", "one worker", "two workers"),
        row2("events/s (combined)", f"{one.events_per_s:,.0f}", f"{p.events_per_s:,.0f}"),
        row2(
            "CPU per event (all worker processes)",
            f"{one.cpu_us_per_event:,.0f} us",
            f"{p.cpu_us_per_event:,.0f} us",
        ),
        row2("broker CPU, same window", cores(one.broker_cores_busy), cores(p.broker_cores_busy)),
        row2(
            "rest of the machine, same window",
            cores(one.others_cores_busy),
            cores(p.others_cores_busy),
            "this program's producing included (two workers)",
        ),
        row(
            "CPU per event, two / one",
            f"{ratio:.2f}",
            f"flat: target <= {TARGET_PAIR_RATIO}: {verdict(ratio <= TARGET_PAIR_RATIO)}",
        ),
        row(
            "each worker: records, CPU",
            " + ".join(f"{d:,}" for d in p.done),
            " + ".join(f"{c:.1f} s" for c in p.cpu_s) + " CPU in the window",
        ),
        row("until both were ready (not timed)", f"{p.ready_s:.1f} s"),
        row("peak RSS (VmHWM) each", " / ".join(f"{m:,.0f} MiB" for m in p.peak_rss_mib)),
        row("dead-lettered", f"{p.dead_lettered:,}", "should be 0"),
        row(
            "longest pause in progress",
            f"{p.longest_pause_s:.1f} s",
            f"stalls (over {STALL_S:.0f} s): "
            + ("one: the rate says little" if p.longest_pause_s > STALL_S else "none"),
        ),
        f"  What {cpus} cores allow: both workers, the broker and this program share them, so the "
        f"combined rate is bounded\n"
        f"    by the cores, not by the partitions: at most ({cpus} - {broker:.2f} broker) cores / "
        f"{p.cpu_us_per_event:,.0f} us = {bound:,.0f} events/s here,\n"
        f"    and twice one worker's events/s cannot be reached on this machine. The figure that "
        f"carries to more cores is the CPU\n"
        f"    per event: {p.cpu_us_per_event:,.0f} us with two workers, {ratio:.2f}x one worker's; "
        f"with a core per worker (and the broker elsewhere)\n"
        f"    that is about {per_core:,.0f} events/s per worker, n workers ~ n x that.",
    ]


def _timers(late: Lateness, tick: TickCost) -> list[str]:
    return [
        "",
        f"Timers  in-process Processor + TimerIndex, dict tables, tick every "
        f"{late.tick_interval_s * 1000:.0f} ms (no commands-topic round trip)",
        row(
            "pending timers",
            f"{late.pending:,}",
            f"{late.fired:,} of {late.expected:,} due fired over {late.window_s:.0f} s",
        ),
        row("lateness p50", f"{late.p50_ms:,.0f} ms"),
        row("lateness p90", f"{late.p90_ms:,.0f} ms"),
        row(
            "lateness p99",
            f"{late.p99_ms:,.0f} ms",
            f"target < {TARGET_P99_MS:,.0f} ms: {verdict(late.p99_ms < TARGET_P99_MS)}",
        ),
        row("lateness max", f"{late.max_ms:,.0f} ms"),
        row(
            f"tick, {tick.due:,} due of {tick.small:,}",
            f"{tick.small_us:,.0f} us",
            "pop_due + send the commands, median",
        ),
        row(f"tick, {tick.due:,} due of {tick.large:,}", f"{tick.large_us:,.0f} us"),
        row(
            "tick ratio (large / small)",
            f"{tick.ratio:.2f}",
            f"target < {TARGET_TICK_RATIO}: {verdict(tick.ratio < TARGET_TICK_RATIO)}",
        ),
        row(
            "pop_due alone, small / large",
            f"{tick.small_pop_us:,.0f} / {tick.large_pop_us:,.0f} us",
            f"ratio {tick.pop_ratio:.2f} (buckets per second: O(k); a 1M-key dict misses caches)",
        ),
    ]


def render(
    m: Machine,
    cpus: int,
    runs: Results | None,
    late: Lateness | None,
    tick: TickCost | None,
) -> str:
    lines = [
        "",
        f"Nudge triggers benchmark: {m.cores} cores ({m.cpu_model}), {m.memory_gib:.0f} GiB, "
        f"Python {m.python}",
        "  the worker, the Kafka broker and this program share these cores; the worker itself"
        " is one process (one core at most for Python).",
    ]
    if runs is not None:
        lines += _runs(runs)
        if runs.pair is not None:
            lines += _pair(runs.pair, runs.small, cpus)
    if late is not None and tick is not None:
        lines += _timers(late, tick)
    return "\n".join(lines)
