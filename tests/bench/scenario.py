"""One load scenario against a running ingest: warm up, measure, check what reached Kafka."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from shared.topics import SHOP_EVENTS
from tests.bench.broker import end_offsets_total
from tests.bench.service import Ingest, cpu_seconds, wait_until_idle
from tests.bench.vegeta import Attack, CountAnswer, Report, attack

WriteTargets = Callable[[Path, int], int]
"""Writes n requests' targets into a file; returns how many it wrote."""


@dataclass(frozen=True)
class Load:
    """How requests are sent: at a constant rate (open model) or flat out by N workers."""

    rate: int
    """Requests per second; 0 = as fast as `workers` concurrent requests allow."""
    workers: int | None
    warmup_requests: int
    measure_s: float
    request_timeout_s: float = 30.0
    """An answer later than this counts as a failure (Shopify gives a webhook 5 s)."""

    def measured_requests(self, warmup: Report) -> int:
        """Enough requests for `measure_s`: at the rate, or at the warm-up's throughput."""
        per_s = self.rate or warmup.throughput
        return max(100, round(per_s * self.measure_s))


@dataclass(frozen=True)
class Outcome:
    warmup: Report
    measured: Report
    acknowledged_events: int
    """Events ingest answered as accepted (warm-up included), counted from its answers."""
    measured_events: int
    """Of which in the measured part."""
    topic_growth: int
    """Records appended to shop.events.v1 meanwhile (warm-up included)."""
    cpu_share: dict[str, float]
    """CPU used during the measurement, in cores (1.0 = one core fully busy)."""

    def cpu_us_per_event(self, role: str) -> float | None:
        """CPU microseconds a process spent per accepted event: a cost that, unlike rates,
        hardly depends on what else the machine is busy with."""
        share = self.cpu_share.get(role)
        if share is None or not self.measured_events:
            return None
        return share * self.measured.duration_s / self.measured_events * 1e6

    def as_json(self) -> dict[str, Any]:
        return {
            "measured": asdict(self.measured),
            "warmup": asdict(self.warmup),
            "acknowledged_events": self.acknowledged_events,
            "measured_events": self.measured_events,
            "ingest_cpu_us_per_event": self.cpu_us_per_event("ingest"),
            "topic_growth": self.topic_growth,
            "cpu_cores": self.cpu_share,
        }


def run_scenario(
    ingest: Ingest,
    write_targets: WriteTargets,
    load: Load,
    *,
    workdir: Path,
    name: str,
    kafka: str,
    broker: int | None,
    topic: str = SHOP_EVENTS.name,
    role: str = "ingest",
    count_answer: CountAnswer | None = None,
) -> Outcome:
    """Warm up, then measure; targets are written while ingest is idle, never during a run.

    For another service than ingest: `topic` is where its records go, `role` its name among
    the CPU shares, `count_answer` the records one of its answers stands for (default: the
    events an ingest answer reports accepted).
    """
    count = count_answer or accepted_events
    settle_disk()
    wait_until_idle(ingest.pid)
    before = end_offsets_total(kafka, topic)
    warm_targets = workdir / f"{name}-warmup.targets"
    write_targets(warm_targets, load.warmup_requests)
    warm = _attack(warm_targets, load, load.warmup_requests, count)
    measure_targets = workdir / f"{name}.targets"
    requests = write_targets(measure_targets, load.measured_requests(warm.report))
    pids = {role: ingest.pid} | ({"broker": broker} if broker else {})
    cpu_before = {who: cpu_seconds(pid) for who, pid in pids.items()}
    measured = _attack(measure_targets, load, requests, count)
    elapsed = measured.report.duration_s
    cpu = {who: (cpu_seconds(pid) - cpu_before[who]) / elapsed for who, pid in pids.items()}
    cpu["vegeta"] = measured.cpu_s / elapsed
    wait_until_idle(ingest.pid, limit_s=20)  # what was in flight is published (or not) by now
    growth = end_offsets_total(kafka, topic) - before
    for path in (warm_targets, measure_targets):
        path.unlink()
    return Outcome(
        warmup=warm.report,
        measured=measured.report,
        acknowledged_events=warm.accepted_events + measured.accepted_events,
        measured_events=measured.accepted_events,
        topic_growth=growth,
        cpu_share=cpu,
    )


def settle_disk() -> None:
    """Write out what earlier scenarios left in the page cache (hundreds of MB of log
    segments) before measuring: the kernel flushes dirty pages 30 s after they were written,
    and that writeback stalled the broker's appends in whichever scenario ran then (webhook
    p99 of 50 ms instead of 11 ms, raw producer p99 of 229 ms instead of 22 ms)."""
    os.sync()


def _attack(targets: Path, load: Load, requests: int, count_answer: CountAnswer) -> Attack:
    """Send every target once; the time cap only guards against a stalled service."""
    expected_s = requests / load.rate if load.rate else load.measure_s
    return attack(
        targets,
        rate=load.rate,
        max_workers=load.workers,
        max_duration_s=max(30.0, 4 * expected_s),
        request_timeout_s=load.request_timeout_s,
        count_answer=count_answer,
    )


def accepted_events(code: int, body: Any) -> int:
    """Events an ingest answer reports as accepted (batch and webhook answers alike)."""
    if not 200 <= code < 300 or not isinstance(body, dict):
        return 0
    items = body.get("results", [body])
    return sum(len(i.get("event_ids", [])) for i in items if i.get("status") == "accepted")
