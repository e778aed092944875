"""Prometheus metrics of the ingest service (served on /metrics).

With several worker processes every worker writes its values into files under
PROMETHEUS_MULTIPROC_DIR (set by the server before the workers start, so prometheus_client
picks the file-backed values when a worker imports it), and /metrics adds up all workers'
files: a scrape answered by any worker shows the whole service.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

REQUESTS = Counter(
    "nudge_ingest_requests_total", "HTTP requests by route and status code", ["route", "status"]
)
REQUEST_SECONDS = Histogram(
    "nudge_ingest_request_seconds",
    "HTTP request latency by route",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS = Counter(
    "nudge_ingest_events_total",
    "Events by type and outcome (accepted, duplicate, rejected, ignored, rate_limited, "
    "unavailable); type is '*' where the outcome concerns a whole item",
    ["type", "outcome"],
)
ORDER_OWNERS_DROPPED = Counter(
    "nudge_ingest_order_owners_dropped_total",
    "Order owners dropped before they were saved: refused by PostgreSQL (a NUL in an id), or "
    "beyond what is kept while the database is unavailable (overflow)",
    ["reason"],
)
PUBLISH_SECONDS = Histogram(
    "nudge_ingest_publish_seconds",
    "Time from handing a request's events to the producer until the broker acknowledged all",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


def render() -> bytes:
    """The exposition text: this process's registry, or every worker's values summed."""
    if not multiprocess_mode():
        return generate_latest()
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def worker_exited(pid: int) -> None:
    """Drop a finished worker's live gauges (counters and histograms keep counting)."""
    if multiprocess_mode():
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
