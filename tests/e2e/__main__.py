"""`python -m tests.e2e`: the whole system under the simulator's load and faults, then the
oracle's comparison and the figures (issue 25). Exit status 0 when the acceptance invariants
hold, 1 otherwise. `make e2e` runs the full version, `make e2e-short` the short one."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import traceback
from datetime import timedelta
from pathlib import Path
from typing import Any

from shared.events import SegmentEvent
from shared.events.segments import parse_segment_event
from tests.e2e.harness import figures
from tests.e2e.harness.exclusive import only_run
from tests.e2e.harness.layout import Ports
from tests.e2e.harness.run import (
    MARGIN_WALL_S,
    SEGMENT_CHANGES_FILE,
    RunOptions,
    RunResult,
    new_run_dir,
    run,
    write_result,
)
from tests.e2e.harness.schedule import Scenario

SHORT = RunOptions(
    customers=2000,
    days=1.0,
    scale=1728.0,
    rate=500.0,
    scenario=Scenario.SIGKILL,
    short=True,
    drain_days=0.5,
    drain_timeout_s=60.0,
    floor=False,
)
"""A few thousand customers over a simulated day in 50 s of wall time, with the SIGKILL
of dispatch's sender and of triggers."""


def parse(argv: list[str]) -> RunOptions:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e", description=__doc__)
    parser.add_argument("--short", action="store_true", help="the short version's defaults")
    parser.add_argument("--customers", type=int)
    parser.add_argument("--days", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--scale", type=float, help="simulated seconds per wall second")
    parser.add_argument("--rate", type=float, help="the simulator's requests per second")
    parser.add_argument("--scenario", choices=[s.value for s in Scenario])
    parser.add_argument("--drain-days", type=float)
    parser.add_argument("--no-floor", action="store_true", help="skip the producer floor")
    parser.add_argument("--base-port", type=int)
    args = parser.parse_args(argv)
    base = SHORT if args.short else RunOptions()
    given: dict[str, Any] = {
        "customers": args.customers,
        "days": args.days,
        "seed": args.seed,
        "scale": args.scale,
        "rate": args.rate,
        "scenario": Scenario(args.scenario) if args.scenario else None,
        "drain_days": args.drain_days,
        "base_port": args.base_port,
    }
    fields = {k: v for k, v in given.items() if v is not None}
    if args.no_floor:
        fields["floor"] = False
    return RunOptions(**{**base.__dict__, **fields})


def segment_changes(path: Path) -> dict[tuple[str, str], list[SegmentEvent]]:
    """(shop, customer) -> the segmenter's entries and exits the run published."""
    found: dict[tuple[str, str], list[SegmentEvent]] = {}
    if path.exists():
        for line in path.read_bytes().splitlines():
            if line.strip():
                event = parse_segment_event(line)
                if event.customerid is not None:
                    found.setdefault((event.shopid, event.customerid), []).append(event)
    return found


def compare_run(result: RunResult) -> tuple[str | None, list[str], dict[str, Any] | None]:
    """The oracle's prediction against the sinks' logs: (report, violations, JSON); the
    report None when a part is missing or failed (the harness's figures still print)."""
    try:
        from tests.e2e.compare import compare
        from tests.e2e.oracle import OracleConfig, predict
        from tests.e2e.report import as_json, render
        from tests.e2e.sink_logs import read_observed
    except ImportError as exc:
        return None, [], {"error": f"comparison unavailable: {exc}"}
    layout_dir = result.run_dir
    try:
        prediction = predict(
            result.plan,
            OracleConfig.e2e(),
            until=result.until,
            margin=timedelta(seconds=MARGIN_WALL_S * result.clock.scale),
            replies_until=result.replies_until,
            segment_events=segment_changes(layout_dir / SEGMENT_CHANGES_FILE),
        )
        observed = read_observed(layout_dir / "smtp-sink.jsonl", layout_dir / "sms-sink.jsonl")
        comparison = compare(prediction, observed, result.faults, result.clock)
    except Exception:
        failure = traceback.format_exc()
        return None, [f"the comparison failed:\n{failure}"], {"error": failure}
    text = render(comparison, figures.render(result.figures))
    return text, comparison.violations(), as_json(comparison)


def main(argv: list[str] | None = None) -> int:
    options = parse(sys.argv[1:] if argv is None else argv)
    # Machine-wide, not per checkout: every checkout's run takes the same ports.
    with only_run(Path(tempfile.gettempdir()) / f"nudge-e2e-{Ports().kafka}.lock"):
        started = time.monotonic()
        run_dir = new_run_dir()
        result = asyncio.run(run(options, run_dir))
    path = write_result(result)
    compared_at = time.monotonic()
    report, compare_violations, compared = compare_run(result)
    violations = result.violations() + compare_violations
    document = json.loads(path.read_text())
    document["comparison"] = compared
    document["violations"] = violations
    document["compare_s"] = round(time.monotonic() - compared_at, 1)
    document["wall_s"]["total"] = round(time.monotonic() - started, 1)
    path.write_text(json.dumps(document, indent=1, default=str))
    print()
    print(report if report is not None else figures.render(result.figures))
    if compared and "error" in compared:
        print(f"\n(no oracle comparison: {compared['error'].splitlines()[-1]})")
    print(f"\nrun folder: {result.run_dir} (result.json, metrics.jsonl, logs/)")
    print(f"wall time: {document['wall_s']['total']:.0f} s")
    if violations:
        print("\nFAILED:")
        for line in violations:
            print(f"  - {line}")
        return 1
    print("\nPASSED: every acceptance invariant holds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
