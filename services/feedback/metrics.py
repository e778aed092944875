"""Prometheus metrics of the feedback service (served on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "nudge_feedback_requests_total", "HTTP requests by route and status code", ["route", "status"]
)
REQUEST_SECONDS = Histogram(
    "nudge_feedback_request_seconds",
    "HTTP request latency by route",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS = Counter(
    "nudge_feedback_events_total",
    "Feedback events published, by type",
    ["type"],
)
INDEXED = Counter(
    "nudge_feedback_indexed_records_total",
    "Records the index read, by topic and outcome (stored, ignored, parked)",
    ["topic", "outcome"],
)
POLLS_GIVEN_BACK = Counter(
    "nudge_feedback_index_polls_given_back_total",
    "Polls of the index read again because the database or the broker was unavailable",
)
