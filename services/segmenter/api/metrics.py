"""Prometheus metrics of the segmenter's read API (served on its /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "nudge_segmenter_api_requests_total",
    "HTTP requests by route and status code",
    ["route", "status"],
)
REQUEST_SECONDS = Histogram(
    "nudge_segmenter_api_request_seconds",
    "HTTP request latency by route",
    ["route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RECORDS = Counter(
    "nudge_segmenter_api_records_total",
    "customer.profiles.v1 records the projection read, by outcome (stored: applied, or older "
    "than the profile held and ignored; removed: a tombstone; superseded: a later record of the "
    "same person in the same poll won; parked: does not parse, or PostgreSQL refused it)",
    ["outcome"],
)
POLLS_GIVEN_BACK = Counter(
    "nudge_segmenter_api_polls_given_back_total",
    "Polls of the projection read again because the database or the broker was unavailable",
)
