"""The triggers benchmark's table: measure | result | target, as the ingest one prints it.

Targets (from the triggers issue) are shown as met or missed; nothing fails on them.
"""

from __future__ import annotations

from tests.bench.report import Machine
from tests.bench.triggers.throughput import Breakdown, Reference, WorkerRun
from tests.bench.triggers.timers import Lateness, TickCost

TARGET_EVENTS_PER_S = 10_000
TARGET_P99_MS = 1_000.0
TARGET_TICK_RATIO = 1.5


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def row(measure: str, result: str, target: str = "") -> str:
    return f"  {measure:<34} {result:>16}   {target}".rstrip()


def _worker(w: WorkerRun, ref: Reference, b: Breakdown) -> list[str]:
    ratio = w.events_per_s / ref.events_per_s
    return [
        "",
        f"Triggers worker  python -m services.triggers, RocksDB tables, {w.events:,} shop "
        f"events ({w.record_bytes:.0f} B mean record), {w.measured_events:,} timed "
        f"over {w.seconds:.1f} s",
        row(
            "events/s",
            f"{w.events_per_s:,.0f}",
            f"target >= {TARGET_EVENTS_PER_S:,} on one core: "
            f"{verdict(w.events_per_s >= TARGET_EVENTS_PER_S)}",
        ),
        row(
            "worker CPU per event",
            f"{w.cpu_us_per_event:,.0f} us",
            f"{w.cores_busy:.2f} cores busy",
        ),
        row(
            "broker CPU, same window",
            f"{w.broker_cores_busy:.2f} cores" if w.broker_cores_busy is not None else "n/a",
            "the broker shares the 2 cores",
        ),
        row("worker peak RSS (VmHWM)", f"{w.peak_rss_mib:,.0f} MiB"),
        row("dead-lettered", f"{w.dead_lettered:,}", "should be 0"),
        row("start-up until the first record", f"{w.startup_s:.1f} s", "(not timed)"),
        row(
            "reference: plain aiokafka consumer",
            f"{ref.events_per_s:,.0f}",
            "events/s, same records, no processing",
        ),
        row("worker / reference", f"{ratio:.1%}"),
        *(
            row(
                "Faust floor" + (" + a table write" if f.table else ", records only"),
                f"{f.events_per_s:,.0f}",
                f"events/s, {f.cpu_us_per_event:,.0f} us CPU per event (an agent doing nothing)",
            )
            for f in ref.floors
        ),
        row(
            "in-process Processor, no Kafka/Faust",
            f"{b.us_per_event:,.0f} us",
            f"CPU per event (parse, decide, state, actions); {1e6 / b.us_per_event:,.0f}/s",
        ),
        row("mean state size", f"{w.state_bytes_mean:,.0f} B", "after the run, per customer"),
        row("producing the input (aiokafka)", f"{w.produced_per_s:,.0f}", "records/s"),
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
    worker: WorkerRun | None,
    reference: Reference | None,
    breakdown: Breakdown | None,
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
    if worker is not None and reference is not None and breakdown is not None:
        lines += _worker(worker, reference, breakdown)
    if late is not None and tick is not None:
        lines += _timers(late, tick)
    return "\n".join(lines)
