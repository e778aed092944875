"""Prometheus metrics of attribution (served on the feedback service's /metrics)."""

from __future__ import annotations

from prometheus_client import Counter

RECORDS = Counter(
    "nudge_feedback_attribution_records_total",
    "Records attribution read, by topic and what they were (touch, order, ignored: another "
    "type; invalid: does not parse, parked by the index; parked: refused by PostgreSQL)",
    ["topic", "outcome"],
)
ORDERS = Counter(
    "nudge_feedback_attribution_orders_total",
    "Orders by outcome: attributed, no_touch, transactional_only (no credit), held (credited "
    "before: its conversion is not decided again)",
    ["outcome"],
)
PUBLISHED = Counter(
    "nudge_feedback_conversions_published_total",
    "Conversions the broker acknowledged on conversions.v1 (a replay may publish one again)",
)
POLLS_GIVEN_BACK = Counter(
    "nudge_feedback_attribution_polls_given_back_total",
    "Polls of attribution read again because the database or the broker was unavailable",
)
