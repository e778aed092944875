"""The segmenter benchmark's table: measure | result | target, as the triggers one prints it.

Targets (from the segmenter issue) are shown as met or missed; nothing fails on them.
"""

from __future__ import annotations

from tests.bench.report import Machine
from tests.bench.segmenter.throughput import Output
from tests.bench.segmenter.ticks import TickCost
from tests.bench.triggers.report import row, verdict
from tests.bench.triggers.throughput import Breakdown, Floor, Reference, WorkerRun

TARGET_FLOOR_SHARE = 0.5
"""The worker's events/s, at least this share of the Faust floor's (records only)."""
TARGET_TICK_RATIO = 1.5


def floor_share(worker: WorkerRun, reference: Reference) -> tuple[Floor, float]:
    """The records-only floor, and the worker's events/s as a share of it."""
    bare = next(f for f in reference.floors if not f.table)
    return bare, worker.events_per_s / bare.events_per_s


def _worker(w: WorkerRun, ref: Reference, b: Breakdown, out: Output) -> list[str]:
    bare, share = floor_share(w, ref)
    return [
        "",
        f"Segmenter worker  python -m services.segmenter, RocksDB tables, shipped segments, "
        f"{w.events:,} records on 3 topics ({w.record_bytes:.0f} B mean), {w.measured_events:,} "
        f"timed over {w.seconds:.1f} s",
        row("events/s", f"{w.events_per_s:,.0f}"),
        row(
            "worker CPU per event",
            f"{w.cpu_us_per_event:,.0f} us",
            f"{w.cores_busy:.2f} cores busy",
        ),
        *(
            row(
                "Faust floor" + (" + a table write" if f.table else ", records only"),
                f"{f.events_per_s:,.0f}",
                f"events/s, {f.cpu_us_per_event:,.0f} us CPU per event (an agent doing nothing)",
            )
            for f in ref.floors
        ),
        row(
            "worker / floor (records only)",
            f"{share:.1%}",
            f"target >= {TARGET_FLOOR_SHARE:.0%}: {verdict(share >= TARGET_FLOOR_SHARE)}",
        ),
        row(
            "floor / worker, CPU per event",
            f"{bare.cpu_us_per_event / w.cpu_us_per_event:.1%}",
            "the share of the worker's CPU that Faust's floor accounts for",
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
        row(
            "in-process Processor, no Kafka/Faust",
            f"{b.us_per_event:,.0f} us",
            f"CPU per event (parse, apply, evaluate, emit, store); {1e6 / b.us_per_event:,.0f}/s",
        ),
        row(
            "output per input record",
            f"{out.profiles_per_event:.2f} + {out.changes_per_event:.2f}",
            "customer.profile records + segment changes (in-process run)",
        ),
        row("mean profile size", f"{w.state_bytes_mean:,.0f} B", "after the run, per customer"),
        row("producing the input (aiokafka)", f"{w.produced_per_s:,.0f}", "records/s"),
    ]


def _ticks(t: TickCost) -> list[str]:
    return [
        "",
        f"Time-based changes  in-process Processor + Evaluator + TimerIndex, dict tables; "
        f"{t.due:,} customers due, {t.changes:,} segment changes per sample, median of "
        f"{t.samples} (CPU time; no commands-topic round trip)",
        row(
            f"ticks + due commands, of {t.small:,}",
            f"{t.small_cpu_us / 1000:,.0f} ms",
            f"{t.small_cpu_us / t.due:,.0f} us per due customer; "
            f"wall {t.small_wall_us / 1000:,.0f} ms",
        ),
        row(
            f"ticks + due commands, of {t.large:,}",
            f"{t.large_cpu_us / 1000:,.0f} ms",
            f"{t.large_cpu_us / t.due:,.0f} us per due customer; "
            f"wall {t.large_wall_us / 1000:,.0f} ms",
        ),
        row(
            "ratio (large / small)",
            f"{t.ratio:.2f}",
            f"target < {TARGET_TICK_RATIO}: {verdict(t.ratio < TARGET_TICK_RATIO)} "
            f"(wall: {t.wall_ratio:.2f})",
        ),
        row(
            "of which the ticks alone",
            f"{t.small_tick_us / 1000:,.1f} / {t.large_tick_us / 1000:,.1f} ms",
            "pop_due + send the commands, small / large",
        ),
        row("mean stored profile", f"{t.profile_bytes_mean:,.0f} B", "in the large tables"),
        row("setup (not timed)", f"{t.setup_s:,.0f} s", "build, evaluate, fill, recover"),
    ]


def render(
    m: Machine,
    worker: WorkerRun | None,
    reference: Reference | None,
    breakdown: Breakdown | None,
    output: Output | None,
    ticks: TickCost | None,
) -> str:
    lines = [
        "",
        f"Nudge segmenter benchmark: {m.cores} cores ({m.cpu_model}), {m.memory_gib:.0f} GiB, "
        f"Python {m.python}",
        "  the worker, the Kafka broker and this program share these cores; the worker itself"
        " is one process (one core at most for Python).",
    ]
    if worker is not None and reference is not None and breakdown is not None and output:
        lines += _worker(worker, reference, breakdown, output)
    if ticks is not None:
        lines += _ticks(ticks)
    return "\n".join(lines)
