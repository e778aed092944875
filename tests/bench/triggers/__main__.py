"""`python -m tests.bench.triggers`: print the triggers figures (see the package docstring).

Needs the local broker (KAFKA_BOOTSTRAP_SERVERS, default 127.0.0.1:19092) with the Nudge topics
created (`make up`). Progress goes to stderr, the table to stdout, the same figures as JSON to
.local/bench/triggers.json. `--help` lists the knobs; `--skip-worker` / `--skip-timers` run a
part alone, `--skip-large` / `--skip-scaling` leave out the 1,000,000-customer run and the
two-worker one.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from shared.settings import KafkaSettings
from tests.bench.ingest import machine
from tests.bench.triggers import throughput, timers
from tests.bench.triggers.report import render

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / ".local" / "bench"
MEASURED_CODE = ("services", "shared")


def code_stamp() -> dict[str, float]:
    """Each source file of the measured code and its modification time: compared before and
    after, it tells a run that measured a mix of versions (workers start at different times)."""
    return {
        str(path.relative_to(ROOT)): path.stat().st_mtime
        for folder in MEASURED_CODE
        for path in sorted((ROOT / folder).rglob("*.py"))
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--events", type=int, default=60_000, help="events through the worker, per run"
    )
    parser.add_argument(
        "--customers", type=int, default=1_000, help="customers (seeded), small and 2-worker runs"
    )
    parser.add_argument(
        "--customers-large", type=int, default=1_000_000, help="customers (seeded), large run"
    )
    parser.add_argument(
        "--templates", type=int, default=2_000, help="distinct histories the seeded states copy"
    )
    parser.add_argument("--worker-timeout", type=float, default=900.0, help="seconds")
    parser.add_argument("--pending", type=int, default=1_000_000, help="pending timers")
    parser.add_argument("--fires", type=int, default=6_000, help="timers due in the window")
    parser.add_argument("--window", type=float, default=30.0, help="seconds they fall due over")
    parser.add_argument("--tick-small", type=int, default=10_000, help="pending, small index")
    parser.add_argument("--tick-large", type=int, default=1_000_000, help="pending, large index")
    parser.add_argument("--tick-due", type=int, default=1_000, help="due per timed tick")
    parser.add_argument("--tick-repeat", type=int, default=30, help="timed ticks per size")
    parser.add_argument(
        "--profile-worker",
        type=Path,
        help="run the small run's worker under cProfile, stats to this file",
    )
    parser.add_argument("--skip-worker", action="store_true", help="no end-to-end worker run")
    parser.add_argument("--skip-large", action="store_true", help="no large-table run")
    parser.add_argument("--skip-scaling", action="store_true", help="no two-worker run")
    parser.add_argument("--skip-timers", action="store_true", help="no timer figures")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    opts = parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "machine": asdict(machine()),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(opts).items()},
    }
    before = code_stamp()
    runs = late = tick = None
    if not opts.skip_worker:
        kafka = KafkaSettings().bootstrap_servers
        runs = throughput.run(
            kafka,
            opts.events,
            opts.customers,
            None if opts.skip_large else opts.customers_large,
            opts.worker_timeout,
            OUT,
            opts.profile_worker,
            templates=opts.templates,
            scaling=not opts.skip_scaling,
        )
        results |= {
            "small": asdict(runs.small),
            "large": asdict(runs.large) if runs.large is not None else None,
            "large_over_small_cpu_per_event": runs.size_ratio,
            "pair": asdict(runs.pair) if runs.pair is not None else None,
            "reference": asdict(runs.reference),
            "in_process": asdict(runs.breakdown),
            "templates": {k: v for k, v in asdict(runs.templates).items() if k != "states"},
            "state_bytes_after_small": runs.state_bytes_after_small,
            "in_process_large": (
                asdict(runs.breakdown_large) if runs.breakdown_large is not None else None
            ),
            "state_bytes_after_large": runs.state_bytes_after_large,
        }
    if not opts.skip_timers:
        tick = timers.tick_cost(opts.tick_small, opts.tick_large, opts.tick_due, opts.tick_repeat)
        late = timers.lateness(opts.pending, opts.fires, opts.window)
        results |= {"lateness": asdict(late), "tick": asdict(tick) | {"ratio": tick.ratio}}
    after = code_stamp()
    changed = sorted(
        name for name in before.keys() | after.keys() if before.get(name) != after.get(name)
    )
    results["code_changed_during_run"] = changed
    print(render(machine(), os.cpu_count() or 0, runs, late, tick))
    if changed:
        print(
            f"\nNOTE: {len(changed)} file(s) of the measured code changed during the run "
            f"({', '.join(changed[:5])}{', ...' if len(changed) > 5 else ''}): the figures "
            "may mix code versions."
        )
    (OUT / "triggers.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"\n(figures also in {(OUT / 'triggers.json').relative_to(ROOT)})")


if __name__ == "__main__":
    main()
