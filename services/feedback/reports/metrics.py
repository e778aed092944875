"""Prometheus metrics of reports (served on the feedback service's /metrics)."""

from __future__ import annotations

from prometheus_client import Counter

RECORDS = Counter(
    "nudge_feedback_report_records_total",
    "Records reports read, by topic and outcome (counted: stored, new or a repeat; ignored: a "
    "type reports do not count; invalid: does not parse, parked by the index; parked: a "
    "conversions.v1 record that does not parse, or one PostgreSQL refused)",
    ["topic", "outcome"],
)
POLLS_GIVEN_BACK = Counter(
    "nudge_feedback_report_polls_given_back_total",
    "Polls of reports read again because the database or the broker was unavailable",
)
