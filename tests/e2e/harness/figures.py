"""The harness's figures: throughput, lag and recovery per fault, where each event's CPU and
memory go. Pure: computed from what was sampled, rendered as plain-text tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

from tests.e2e.harness import recovery
from tests.e2e.model import Fault

TARGET_EVENTS_PER_S = 1500.0


@dataclass(frozen=True)
class Throughput:
    events: int
    """Events ingest accepted (the simulator's `events_accepted`)."""
    load_s: float
    """Wall seconds the simulator sent for."""
    caught_up_s: float | None
    """Wall seconds from the load's start until every group's lag was 0 after it ended."""
    simulator_events_per_s: float
    floor_events_per_s: float | None = None
    """Kafka's own producer against the same broker in the same run, when measured."""

    @property
    def end_to_end_per_s(self) -> float | None:
        if not self.caught_up_s:
            return None
        return self.events / self.caught_up_s


@dataclass(frozen=True)
class FaultFigures:
    kind: str
    target: str
    started_at: float
    duration_s: float
    lag_before: int
    lag_peak: int
    recovery_s: float | None
    detail: str


@dataclass(frozen=True)
class ServiceCost:
    name: str
    cpu_s: float
    cpu_ms_per_event: float | None
    share: float
    peak_rss_mb: float


@dataclass(frozen=True)
class Figures:
    throughput: Throughput
    faults: list[FaultFigures]
    costs: list[ServiceCost]
    lag_after: int | None
    """Total lag at the end of the drain."""

    def as_json(self) -> dict[str, object]:
        return {
            "throughput": {
                **asdict(self.throughput),
                "end_to_end_per_s": self.throughput.end_to_end_per_s,
            },
            "faults": [asdict(f) for f in self.faults],
            "costs": [asdict(c) for c in self.costs],
            "lag_after": self.lag_after,
        }


def fault_figures(
    faults: Sequence[Fault], lag: Sequence[recovery.Sample], horizon: float
) -> list[FaultFigures]:
    """Lag before, at its peak during and after each fault (until it recovered, or until
    `horizon` when it did not), and the recovery time."""
    found = []
    for fault in faults:
        start, end = fault.started_at.timestamp(), fault.ended_at.timestamp()
        back = recovery.recovery_s(lag, start, end)
        until = end + back if back is not None else horizon
        found.append(
            FaultFigures(
                fault.kind,
                fault.target,
                start,
                end - start,
                recovery.baseline(lag, start),
                recovery.peak_between(lag, start, until),
                back,
                fault.detail,
            )
        )
    return found


def service_costs(
    cpu_s: Mapping[str, float], peak_rss_kb: Mapping[str, int], events: int
) -> list[ServiceCost]:
    """Per service, its CPU seconds, per event, as a share of all, and its peak memory; the
    costliest first."""
    total = sum(cpu_s.values()) or 1.0
    return sorted(
        (
            ServiceCost(
                name,
                spent,
                spent * 1000 / events if events else None,
                spent / total,
                peak_rss_kb.get(name, 0) / 1024,
            )
            for name, spent in cpu_s.items()
        ),
        key=lambda c: -c.cpu_s,
    )


def _num(value: float | None, fmt: str = "{:,.1f}") -> str:
    return "-" if value is None else fmt.format(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]
    line = "  ".join(f"{{:>{w}}}" if i else f"{{:<{w}}}" for i, w in enumerate(widths))
    return [line.format(*header), line.format(*("-" * w for w in widths))] + [
        line.format(*row) for row in rows
    ]


def render(figures: Figures) -> str:
    t = figures.throughput
    lines = ["Throughput (events ingest accepted, wall time)"]
    lines += _table(
        ("measure", "events/s", "floor", "target"),
        [
            (
                "end to end (load start -> lag 0)",
                _num(t.end_to_end_per_s),
                _num(t.floor_events_per_s),
                f"{TARGET_EVENTS_PER_S:,.0f}",
            ),
            ("simulator sending", _num(t.simulator_events_per_s), "-", "-"),
        ],
    )
    lines.append(
        f"{t.events:,} events in {t.load_s:,.1f} s of load; caught up after "
        f"{_num(t.caught_up_s)} s; lag at the end {_num(figures.lag_after, '{:,.0f}')}"
    )
    if figures.faults:
        lines += ["", "Faults: consumer lag (records, all groups) and recovery"]
        lines += _table(
            ("fault", "target", "held s", "lag before", "lag peak", "recovery s", "detail"),
            [
                (
                    f.kind,
                    f.target,
                    f"{f.duration_s:,.1f}",
                    f"{f.lag_before:,}",
                    f"{f.lag_peak:,}",
                    _num(f.recovery_s),
                    f.detail,
                )
                for f in figures.faults
            ],
        )
    lines += ["", "Where each event's cost goes (CPU over the whole run, peak RSS)"]
    lines += _table(
        ("service", "CPU s", "CPU ms/event", "share", "peak RSS MB"),
        [
            (
                c.name,
                f"{c.cpu_s:,.1f}",
                _num(c.cpu_ms_per_event, "{:,.3f}"),
                f"{c.share:.0%}",
                f"{c.peak_rss_mb:,.0f}",
            )
            for c in figures.costs
        ],
    )
    return "\n".join(lines)
