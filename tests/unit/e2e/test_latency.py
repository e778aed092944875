"""Nearest-rank percentiles on known samples, and the latency table's rows in their order."""

from __future__ import annotations

import random

import pytest

from tests.e2e.latency import (
    ALL,
    ORDER_CONFIRMATION,
    Sample,
    Stats,
    latency_rows,
    percentile,
    row_name,
    stats,
)


def test_percentiles_of_one_to_a_hundred_are_the_values_of_their_rank() -> None:
    values = list(range(1, 101))
    random.Random(4).shuffle(values)

    assert stats(values) == Stats(count=100, p50=50, p95=95, p99=99, max=100)


def test_percentiles_of_a_small_sample_are_measured_values() -> None:
    assert stats([0.3, 0.1, 0.2]) == Stats(count=3, p50=0.2, p95=0.3, p99=0.3, max=0.3)
    assert stats([7.0]) == Stats(count=1, p50=7.0, p95=7.0, p99=7.0, max=7.0)
    assert stats([]) == Stats(count=0)
    assert percentile([1.0, 2.0], 0) == 1.0
    with pytest.raises(ValueError):
        percentile([], 50)


def test_rows_put_order_confirmation_first_then_transactional_then_marketing() -> None:
    samples = [
        Sample(row_name("welcome", "welcome"), False, 1.0, during_fault=False),
        Sample(row_name("shipping_update", "order_update"), True, 0.5, during_fault=True),
        Sample(row_name("abandoned_cart", "abandoned_cart"), False, 2.0, during_fault=False),
        Sample(row_name("order_confirmation", "order_update"), True, 0.2, during_fault=False),
        Sample(row_name("order_confirmation", "order_update"), True, 4.0, during_fault=True),
    ]

    rows = latency_rows(samples)

    assert [r.row for r in rows] == [
        ORDER_CONFIRMATION,
        "order update",
        "abandoned cart",
        "welcome",
        ALL,
    ]
    confirmation = rows[0]
    assert confirmation.transactional
    assert confirmation.overall == Stats(count=2, p50=0.2, p95=4.0, p99=4.0, max=4.0)
    assert confirmation.during_faults == Stats(count=1, p50=4.0, p95=4.0, p99=4.0, max=4.0)
    assert confirmation.outside_faults == Stats(count=1, p50=0.2, p95=0.2, p99=0.2, max=0.2)
    assert rows[-1].overall.count == 5
    assert not rows[-1].transactional
    assert latency_rows([]) == []
