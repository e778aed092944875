"""Prometheus metrics of the ingest service (served on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
PUBLISH_SECONDS = Histogram(
    "nudge_ingest_publish_seconds",
    "Time from handing a request's events to the producer until the broker acknowledged all",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
