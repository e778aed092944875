"""The oracle comparison as text for people and as JSON for the run folder.

`render` prints the verdict first (the acceptance failures, or that there are none), then the
counts per category and per campaign and channel, the latency table, the discrepancies with
their customers' histories, and last the figures the harness measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from tests.e2e.compare import VIOLATIONS, Category, Comparison, Discrepancy
from tests.e2e.latency import LatencyRow, Stats
from tests.e2e.model import Fault, Observed, Sink

JSON_DISCREPANCIES = 1000
"""Discrepancies per category written to the JSON (all are counted)."""


def render(comparison: Comparison, figures: str | None = None) -> str:
    parts = [
        _title("Oracle comparison"),
        _summary(comparison),
        _verdict(comparison),
        _categories(comparison),
        _campaigns(comparison),
        _latency(comparison.latency),
        _faults(comparison.faults),
        _discrepancies(comparison),
    ]
    if figures:
        parts += [_title("Figures"), figures.rstrip("\n")]
    return "\n\n".join(p for p in parts if p) + "\n"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "  ") -> str:
    """A plain text table: numeric columns right-aligned, the others left-aligned."""
    cells = [[str(v) for v in row] for row in rows]
    columns = range(len(headers))
    widths = [max([len(headers[i])] + [len(r[i]) for r in cells]) for i in columns]
    numeric = [bool(cells) and all(_numeric(r[i]) for r in cells) for i in columns]

    def line(values: Sequence[str]) -> str:
        out = [
            v.rjust(widths[i]) if numeric[i] else v.ljust(widths[i]) for i, v in enumerate(values)
        ]
        return (indent + "  ".join(out)).rstrip()

    rule = indent + "  ".join("-" * w for w in widths)
    return "\n".join([line(list(headers)), rule, *(line(r) for r in cells)])


def _numeric(text: str) -> bool:
    if text in ("", "-"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def _title(text: str) -> str:
    return f"{text}\n{'=' * len(text)}"


def _summary(c: Comparison) -> str:
    copies = ", ".join(f"{sink}: {c.copies.get(sink, 0)}" for sink in Sink)
    return (
        f"events published: {c.events}\n"
        f"expected: {c.expected} ({c.certain} certain, {c.expected - c.certain} uncertain), "
        f"withheld: {c.withheld}\n"
        f"copies received: {copies}\n"
        f"matched (expected, received exactly once): {c.matched}"
    )


def _verdict(c: Comparison) -> str:
    failures = c.violations()
    if not failures:
        return (
            "PASS: 0 missing, 0 duplicate SMS, 0 marketing messages after an opt-out or a "
            "suppression, nothing unexpected"
        )
    return "\n".join(
        [f"FAIL: {len(failures)} acceptance failures"] + [f"  - {f}" for f in failures]
    )


def _categories(c: Comparison) -> str:
    rows: list[list[object]] = [["matched", c.matched, ""]]
    for category in Category:
        rows.append([str(category), c.count(category), _verdict_of(category)])
    return "Counts\n" + table(["category", "messages", ""], rows)


def _verdict_of(category: Category) -> str:
    if category in VIOLATIONS:
        return "violation"
    if category is Category.EMAIL_DUPLICATE_EXPLAINED:
        return "counted (SMTP cannot prevent it)"
    return "tolerated"


def _campaigns(c: Comparison) -> str:
    if not c.campaigns:
        return ""
    headers = [
        "campaign",
        "channel",
        "expected",
        "received",
        "missing",
        "expired",
        "uncertain",
        "duplicated",
        "withheld sent",
    ]
    rows = [
        [
            t.campaign_id,
            t.channel,
            t.expected,
            t.received,
            t.missing,
            t.expired,
            t.uncertain_missing,
            t.duplicates,
            t.withheld_sent,
        ]
        for t in c.campaigns
    ]
    return "Per campaign and channel\n" + table(headers, rows)


def _latency(rows: list[LatencyRow]) -> str:
    if not rows:
        return "Latency: no message delivered"
    headers = ["kind", "n", "p50", "p95", "p99", "max"]
    overall = table(headers, [[r.row, *_stats(r.overall)] for r in rows])
    split_headers = ["kind", "n", "p50", "p99", "max", "|", "n", "p50", "p99", "max"]
    split = table(
        split_headers,
        [
            [
                r.row,
                *_stats(r.during_faults, short=True),
                "|",
                *_stats(r.outside_faults, short=True),
            ]
            for r in rows
        ],
    )
    return (
        "Latency: wall seconds from when a message may go out to its first copy\n"
        f"{overall}\n\n"
        "During faults (in flight while one lasted or recovered) | outside faults\n"
        f"{split}"
    )


def _stats(s: Stats, short: bool = False) -> list[object]:
    values = [s.p50, s.p99, s.max] if short else [s.p50, s.p95, s.p99, s.max]
    return [s.count, *(("-" if v is None else f"{v:.3f}") for v in values)]


def _faults(faults: list[Fault]) -> str:
    if not faults:
        return ""
    rows = [[f.kind, f.target, _time(f.started_at), _time(f.ended_at), f.detail] for f in faults]
    return "Faults\n" + table(["fault", "target", "from", "to", "detail"], rows)


def _discrepancies(c: Comparison) -> str:
    blocks = []
    for category in Category:
        found = c.found.get(category, [])
        if not found:
            continue
        shown = found[: c.histories]
        lines = [f"{category} ({len(found)})"]
        for discrepancy in shown:
            lines += _discrepancy(discrepancy)
        if len(shown) < len(found):
            lines.append(f"  ... and {len(found) - len(shown)} more (the JSON lists them)")
        blocks.append("\n".join(lines))
    return "\n\n".join(["Discrepancies", *blocks]) if blocks else ""


def _discrepancy(d: Discrepancy) -> list[str]:
    what = "/".join(x for x in (d.campaign_id, d.step_id) if x) or "?"
    lines = [f"  {d.message_id or '(no message id)'}  {what}  {d.channel or '?'}"]
    if d.note:
        lines.append(f"    why: {d.note}")
    if d.customer is not None:
        who = d.customer
        address = " ".join(a for a in (who.email, who.phone) if a)
        lines.append(f"    customer: {who.shop_id}/{who.customer_id} {address}")
    for copy in d.copies:
        lines.append(
            f"    copy: {_time(copy.received_at)} {copy.sink} to {copy.to}: {copy.summary}"
        )
    if d.history:
        lines.append("    history:")
        lines += [f"      {entry}" for entry in d.history]
    return lines


def as_json(comparison: Comparison, limit: int = JSON_DISCREPANCIES) -> dict[str, Any]:
    """The comparison for the run folder and the short test: counts, violations, tallies,
    latency and (up to `limit` per category) the discrepancies."""
    c = comparison
    return {
        "events": c.events,
        "expected": c.expected,
        "certain": c.certain,
        "withheld": c.withheld,
        "copies": {str(sink): c.copies.get(sink, 0) for sink in Sink},
        "matched": c.matched,
        "counts": {str(category): c.count(category) for category in Category},
        "violations": c.violations(),
        "passed": not c.violations(),
        "campaigns": [asdict(t) for t in c.campaigns],
        "latency": [
            {
                "row": r.row,
                "transactional": r.transactional,
                "overall": asdict(r.overall),
                "during_faults": asdict(r.during_faults),
                "outside_faults": asdict(r.outside_faults),
            }
            for r in c.latency
        ],
        "faults": [_fault_json(f) for f in c.faults],
        "recovery_s": c.recovery_s,
        "discrepancies": {
            str(category): [_discrepancy_json(d) for d in found[:limit]]
            for category, found in c.found.items()
            if found
        },
    }


def _discrepancy_json(d: Discrepancy) -> dict[str, Any]:
    return {
        "message_id": d.message_id,
        "campaign_id": d.campaign_id,
        "step_id": d.step_id,
        "channel": d.channel,
        "customer": asdict(d.customer) if d.customer is not None else None,
        "note": d.note,
        "copies": [_copy_json(o) for o in d.copies],
        "history": d.history,
    }


def _copy_json(o: Observed) -> dict[str, Any]:
    return {
        "sink": str(o.sink),
        "message_id": o.message_id,
        "to": o.to,
        "received_at": o.received_at.isoformat(),
        "summary": o.summary,
    }


def _fault_json(f: Fault) -> dict[str, Any]:
    return {
        "kind": f.kind,
        "target": f.target,
        "started_at": f.started_at.isoformat(),
        "ended_at": f.ended_at.isoformat(),
        "detail": f.detail,
    }


def _time(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S.%f")[:-3]
