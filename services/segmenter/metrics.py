"""Prometheus metrics of the segmenter (served on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

RECORDS = Counter(
    "nudge_segmenter_records_total",
    "Input records by topic and outcome (processed, duplicate, dead_lettered)",
    ["topic", "outcome"],
)
CHANGES = Counter(
    "nudge_segmenter_changes_total",
    "Segment entries and exits, by segment and direction",
    ["segment", "direction"],
)
PROFILES_PUBLISHED = Counter(
    "nudge_segmenter_profiles_published_total", "Profiles written to customer.profiles.v1"
)
TIMERS_PENDING = Gauge(
    "nudge_segmenter_timers_pending",
    "Profiles on this worker's partitions whose answer can change by time alone",
)
