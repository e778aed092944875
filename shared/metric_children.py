"""Prometheus children looked up once: a stream worker labels a counter on every record."""

from __future__ import annotations

from functools import cache

from prometheus_client import Counter


@cache
def child(metric: Counter, *labels: str) -> Counter:
    """`metric.labels(*labels)`, remembered: the lookup costs more than the increment, it runs
    for every record, and the label values (topics, campaigns, segments, reasons) are a small
    set."""
    return metric.labels(*labels)
