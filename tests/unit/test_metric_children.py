"""A remembered child is the labelled counter itself: increments land where Prometheus reads."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from shared.metric_children import child


def test_a_remembered_child_counts_into_its_labels() -> None:
    counter = Counter("demo_total", "demo", ["topic"], registry=CollectorRegistry())
    child(counter, "a").inc()
    child(counter, "a").inc()
    child(counter, "b").inc()
    assert child(counter, "a") is counter.labels("a")
    assert counter.labels("a")._value.get() == 2
    assert counter.labels("b")._value.get() == 1
