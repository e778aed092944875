"""`python -m tests.e2e`: the whole system under the simulator's load and faults, then the
oracle's comparison and the figures (issue 25). Exit status 0 when the acceptance invariants
hold, 1 otherwise. `make e2e` runs the full version, `make e2e-short` the short one;
`python -m tests.e2e --compare RUN_DIR` gives a finished run's verdict again."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from services.simulator.command import Plan
from services.simulator.formats import Format
from shared.events import SegmentEvent
from shared.events.segments import parse_segment_event
from tests.e2e.compare import compare
from tests.e2e.harness import figures
from tests.e2e.harness.exclusive import only_run
from tests.e2e.harness.layout import REPLIES_FILE, Ports
from tests.e2e.harness.run import (
    MARGIN_WALL_S,
    MESSAGE_LOG_FILE,
    SEGMENT_CHANGES_FILE,
    RunOptions,
    RunResult,
    new_run_dir,
    run,
    write_result,
)
from tests.e2e.harness.schedule import Scenario
from tests.e2e.model import ClockMap, Fault
from tests.e2e.oracle import OracleConfig, predict
from tests.e2e.report import as_json, render
from tests.e2e.sink_logs import read_observed

SHORT = RunOptions(
    customers=2000,
    days=1.0,
    scale=1728.0,
    rate=500.0,
    scenario=Scenario.SIGKILL,
    short=True,
    drain_days=0.25,
    drain_timeout_s=60.0,
    floor=False,
)
"""A few thousand customers over a simulated day in 50 s of wall time, with the SIGKILL
of dispatch's sender and of triggers."""


THROUGHPUT = RunOptions(
    customers=20_000,
    days=1.0,
    scale=8640.0,
    rate=5000.0,
    scenario=Scenario.NONE,
    drain_days=0.25,
)
"""More than the machine can take: 20,000 customers' day (about 21,000 events) offered in 10 s
of wall time, so the figure is what the whole pipeline sustains, beside Kafka's own
producer. No oracle comparison: a run that cannot keep up with its clock is late by design."""


def parse(argv: list[str]) -> tuple[RunOptions, bool]:
    parser = argparse.ArgumentParser(prog="python -m tests.e2e", description=__doc__)
    parser.add_argument("--short", action="store_true", help="the short version's defaults")
    parser.add_argument(
        "--throughput",
        action="store_true",
        help="measure what the pipeline sustains: more load than it can take, no comparison",
    )
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
    base = SHORT if args.short else THROUGHPUT if args.throughput else RunOptions()
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
    return RunOptions(**{**base.__dict__, **fields}), args.throughput


def segment_changes(path: Path) -> dict[tuple[str, str], list[SegmentEvent]]:
    """(shop, customer) -> the segmenter's entries and exits the run published."""
    found: dict[tuple[str, str], list[SegmentEvent]] = {}
    if path.exists():
        for line in path.read_bytes().splitlines():
            if line.strip():
                try:
                    event = parse_segment_event(line)
                except ValidationError:
                    continue  # a poison record of the run's: parked on the dead-letter topic
                if event.customerid is not None:
                    found.setdefault((event.shopid, event.customerid), []).append(event)
    return found


@dataclass(frozen=True)
class Observation:
    """What the comparison needs of a run: its plan, its clock and where observing ended."""

    run_dir: Path
    plan: Plan
    clock: ClockMap
    until: datetime
    replies_until: datetime | None
    faults: list[Fault]

    @classmethod
    def of(cls, result: RunResult) -> Observation:
        return cls(
            result.run_dir,
            result.plan,
            result.clock,
            result.until,
            result.replies_until,
            result.faults,
        )

    @classmethod
    def read(cls, run_dir: Path) -> Observation:
        """From a finished run's result.json."""
        doc = json.loads((run_dir / "result.json").read_text())
        plan = doc["plan"]
        replies_until = doc.get("replies_until")
        return cls(
            run_dir,
            Plan(
                seed=plan["seed"],
                customers=plan["customers"],
                days=plan["days"],
                start=datetime.fromisoformat(plan["start"]),
                shops=tuple((shop, Format(fmt)) for shop, fmt in plan["shops"].items()),
            ),
            ClockMap(**doc["clock"]),
            datetime.fromisoformat(doc["until"]),
            None if replies_until is None else datetime.fromisoformat(replies_until),
            [
                Fault(
                    f["kind"],
                    f["target"],
                    datetime.fromisoformat(f["started_at"]),
                    datetime.fromisoformat(f["ended_at"]),
                    f.get("detail", ""),
                )
                for f in doc["faults"]
            ],
        )


def dispatch_log(path: Path) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """(shop, customer) -> dispatch's message log rows for them, as the run left them."""
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            row = json.loads(line)
            rows.setdefault((row["shop_id"], row["customer_id"]), []).append(row)
    return rows


def with_dispatch_log(
    history: Callable[[str, str], list[str]], rows: dict[tuple[str, str], list[dict[str, Any]]]
) -> Callable[[str, str], list[str]]:
    """The oracle's history of a customer, then what dispatch's log says of each trigger it
    got for them: a missing message never logged was lost before dispatch."""

    def both(shop_id: str, customer_id: str) -> list[str]:
        logged = [
            f"dispatch log: {r['campaign_id']}/{r['step_id']} {r['state']}"
            f" {r['channel'] or '-'} {r['reason'] or ''} (trigger {r['trigger_id']},"
            f" logged {r['created_at']}, sent {r['sent_at']})"
            for r in rows.get((shop_id, customer_id), [])
        ]
        return history(shop_id, customer_id) + (logged or ["dispatch log: no row"])

    return both


def opt_outs(path: Path) -> dict[tuple[str, str], list[tuple[str, datetime]]]:
    """(shop, customer) -> (channel, wall time) of each STOP or unsubscribe the simulated
    customers made and feedback accepted (the inbox's replies log)."""
    made: dict[tuple[str, str], list[tuple[str, datetime]]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            reply = json.loads(line)
            if reply["kind"] in ("stop", "unsubscribe") and reply["outcome"] == "ok":
                at = datetime.fromisoformat(reply["wall"])
                made.setdefault((reply["shop_id"], reply["customer_id"]), []).append(
                    (reply["channel"], at)
                )
    return made


def compare_run(
    seen: Observation, figures_text: str | None
) -> tuple[str | None, list[str], dict[str, Any] | None]:
    """The oracle's prediction against the sinks' logs: (report, violations, JSON); the
    report None when the comparison failed (the harness's figures still print)."""
    try:
        prediction = predict(
            seen.plan,
            OracleConfig.e2e(),
            until=seen.until,
            margin=timedelta(seconds=MARGIN_WALL_S * seen.clock.scale),
            replies_until=seen.replies_until,
            segment_events=segment_changes(seen.run_dir / SEGMENT_CHANGES_FILE),
        )
        rows = dispatch_log(seen.run_dir / MESSAGE_LOG_FILE)
        prediction.history = with_dispatch_log(prediction.history, rows)
        skipped = {
            row["trigger_id"]: row["reason"] or ""
            for customer_rows in rows.values()
            for row in customer_rows
            if row["state"] == "skipped"
        }
        observed = read_observed(seen.run_dir / "smtp-sink.jsonl", seen.run_dir / "sms-sink.jsonl")
        comparison = compare(
            prediction,
            observed,
            seen.faults,
            seen.clock,
            skipped=skipped,
            opt_outs=opt_outs(seen.run_dir / REPLIES_FILE)
            if (seen.run_dir / REPLIES_FILE).exists()
            else None,
        )
    except Exception:
        failure = traceback.format_exc()
        return None, [f"the comparison failed:\n{failure}"], {"error": failure}
    return render(comparison, figures_text), comparison.violations(), as_json(comparison)


def recompare(run_dir: Path) -> int:
    """The verdict of a finished run again (after a change to the oracle or the comparison),
    from its folder: the harness's own findings as the run recorded them."""
    seen = Observation.read(run_dir)
    report, violations, compared = compare_run(seen, None)
    path = run_dir / "result.json"
    document = json.loads(path.read_text())
    violations = list(document.get("harness_violations", [])) + violations
    document["comparison"] = compared
    document["violations"] = violations
    path.write_text(json.dumps(document, indent=1, default=str))
    return _verdict(report, violations, run_dir)


def _verdict(report: str | None, violations: list[str], run_dir: Path) -> int:
    if report is not None:
        print(report)
    print(f"\nrun folder: {run_dir} (result.json, metrics.jsonl, logs/)")
    if violations:
        print("\nFAILED:")
        for line in violations:
            print(f"  - {line}")
        return 1
    print("\nPASSED: every acceptance invariant holds")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--compare"] and len(args) == 2:
        return recompare(Path(args[1]))
    options, throughput = parse(args)
    # Machine-wide, not per checkout: every checkout's run takes the same ports.
    with only_run(Path(tempfile.gettempdir()) / f"nudge-e2e-{Ports().kafka}.lock"):
        started = time.monotonic()
        run_dir = new_run_dir()
        result = asyncio.run(run(options, run_dir))
    path = write_result(result)
    compared_at = time.monotonic()
    figures_text = figures.render(result.figures)
    report: str | None = None
    compare_violations: list[str] = []
    compared: dict[str, Any] | None = {"skipped": "throughput run"}
    if throughput:
        harness_violations = [v for v in result.violations() if not v.startswith("overloaded")]
    else:
        report, compare_violations, compared = compare_run(Observation.of(result), figures_text)
        harness_violations = result.violations()
    violations = harness_violations + compare_violations
    document = json.loads(path.read_text())
    document["comparison"] = compared
    document["harness_violations"] = harness_violations
    document["violations"] = violations
    document["compare_s"] = round(time.monotonic() - compared_at, 1)
    document["wall_s"]["total"] = round(time.monotonic() - started, 1)
    path.write_text(json.dumps(document, indent=1, default=str))
    print()
    print(report if report is not None else figures_text)
    print(f"wall time: {document['wall_s']['total']:.0f} s")
    return _verdict(None, violations, result.run_dir)


if __name__ == "__main__":
    sys.exit(main())
