"""The latency table: how long after a message may go out it reached its sink, per row.

Rows are campaign kinds, order confirmations on their own row first (the figure the
acceptance quotes), then the other transactional kinds, then marketing, then everything; each
row also split between messages in flight during a fault and the others. Percentiles are
nearest-rank: always one of the measured values, never an interpolation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

ORDER_CONFIRMATION_CAMPAIGN = "order_confirmation"
ORDER_CONFIRMATION = "order confirmation"
ALL = "all"


@dataclass(frozen=True)
class Stats:
    """Count and nearest-rank percentiles (seconds) of one set of latencies; None when empty."""

    count: int
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Sample:
    """One delivered message's latency, with what places it in the table."""

    row: str
    transactional: bool
    seconds: float
    during_fault: bool


@dataclass(frozen=True)
class LatencyRow:
    row: str
    transactional: bool
    overall: Stats
    during_faults: Stats
    outside_faults: Stats


def row_name(campaign_id: str, campaign_kind: str) -> str:
    """The table row of a campaign: its kind, except order confirmations, which get theirs."""
    if campaign_id == ORDER_CONFIRMATION_CAMPAIGN:
        return ORDER_CONFIRMATION
    return campaign_kind.replace("_", " ")


def percentile(ordered: Sequence[float], p: float) -> float:
    """The nearest-rank `p`th percentile of values sorted ascending (not empty)."""
    if not ordered:
        raise ValueError("no values")
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def stats(values: Iterable[float]) -> Stats:
    ordered = sorted(values)
    if not ordered:
        return Stats(0)
    return Stats(
        count=len(ordered),
        p50=percentile(ordered, 50),
        p95=percentile(ordered, 95),
        p99=percentile(ordered, 99),
        max=ordered[-1],
    )


def latency_rows(samples: Iterable[Sample]) -> list[LatencyRow]:
    """One row per kind (order confirmation, transactional, marketing, each by name), then
    `all`; no row for a kind without samples."""
    by_row: dict[str, list[Sample]] = {}
    everything: list[Sample] = []
    for sample in samples:
        by_row.setdefault(sample.row, []).append(sample)
        everything.append(sample)

    def order(name: str) -> tuple[int, str]:
        transactional = any(s.transactional for s in by_row[name])
        return (0 if name == ORDER_CONFIRMATION else 1 if transactional else 2, name)

    rows = [_row(name, by_row[name]) for name in sorted(by_row, key=order)]
    if everything:
        rows.append(_row(ALL, everything))
    return rows


def _row(name: str, samples: list[Sample]) -> LatencyRow:
    return LatencyRow(
        row=name,
        transactional=all(s.transactional for s in samples),
        overall=stats(s.seconds for s in samples),
        during_faults=stats(s.seconds for s in samples if s.during_fault),
        outside_faults=stats(s.seconds for s in samples if not s.during_fault),
    )
