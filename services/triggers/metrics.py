"""Prometheus metrics of the triggers service (served on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RECORDS = Counter(
    "nudge_triggers_records_total",
    "Input records by topic and outcome (processed, dead_lettered)",
    ["topic", "outcome"],
)
FIRED = Counter("nudge_triggers_fired_total", "Steps fired, by campaign", ["campaign"])
EXPIRED = Counter(
    "nudge_triggers_expired_total",
    "Steps found due later than their campaign's lateness bound, by campaign",
    ["campaign"],
)
ENTERED = Counter("nudge_triggers_entered_total", "Journeys entered, by campaign", ["campaign"])
EXITED = Counter(
    "nudge_triggers_exited_total",
    "Journeys left early, by campaign and reason",
    ["campaign", "reason"],
)
TIMERS_PENDING = Gauge(
    "nudge_triggers_timers_pending", "Customers with a pending step on this worker's partitions"
)
TIMER_LATENESS = Histogram(
    "nudge_triggers_timer_lateness_seconds",
    "How long after its due time a step fired, in wall-clock seconds",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
