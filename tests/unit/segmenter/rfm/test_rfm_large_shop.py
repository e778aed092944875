"""A shop of 10,000 buyers: its quintiles come from the KLL sketch, within the sketch's error,
and spread the buyers evenly over the scores."""

from __future__ import annotations

import bisect
import random
from collections import Counter

from datasketches import kll_doubles_sketch

from services.segmenter.profiles.facts import DAY_S, OrderFacts
from services.segmenter.rfm.book import RfmBook
from services.segmenter.rfm.boundaries import QUINTILES
from services.segmenter.rfm.settings import RfmSettings
from tests.unit.segmenter.rfm.builders import NOW, buyer

BUYERS = 10_000
SETTINGS = RfmSettings()


def _shop() -> tuple[RfmBook, list[OrderFacts]]:
    rng = random.Random(2024)
    customers = [
        buyer(
            orders=rng.randint(1, 1_000_000),
            revenue=f"{rng.lognormvariate(4, 1):.2f}",
            days_ago=rng.uniform(0, 730),
        )
        for _ in range(BUYERS)
    ]
    book = RfmBook()
    for facts in customers:
        book.observe("big", facts)
    return book, customers


def _true_rank(sorted_values: list[float], value: float) -> float:
    """The share of values at or under `value`."""
    return bisect.bisect_right(sorted_values, value) / len(sorted_values)


def test_the_quintiles_are_within_the_sketch_error() -> None:
    book, customers = _shop()
    error = kll_doubles_sketch(200).normalized_rank_error(False)
    quantiles = book.quantiles("big", NOW, SETTINGS)
    assert quantiles.frequency is not None
    assert quantiles.recency is not None
    orders = sorted(float(c.orders) for c in customers)
    revenue = sorted(float(c.revenue) for c in customers)
    times = sorted(c.last_order_at or 0.0 for c in customers)
    for q, f_bound, m_bound, age in zip(
        QUINTILES,
        quantiles.frequency.bounds,
        quantiles.monetary["EUR"].bounds,
        quantiles.recency.ages,
        strict=True,
    ):
        assert abs(_true_rank(orders, f_bound) - q) <= error
        assert abs(_true_rank(revenue, m_bound) - q) <= error
        assert abs(_true_rank(times, NOW - age) - q) <= error


def test_buyers_spread_evenly_over_the_five_scores() -> None:
    book, customers = _shop()
    error = kll_doubles_sketch(200).normalized_rank_error(True)
    counts: dict[str, Counter[int]] = {"r": Counter(), "f": Counter(), "m": Counter()}
    for facts in customers:
        scores, _ = book.scores("big", facts, NOW, SETTINGS)
        assert scores is not None
        counts["r"][scores.r] += 1
        counts["f"][scores.f] += 1
        counts["m"][scores.m] += 1
    for dimension in counts.values():
        assert sorted(dimension) == [1, 2, 3, 4, 5]
        for count in dimension.values():
            assert abs(count / BUYERS - 0.2) <= error, dimension


def test_recency_ages_are_days_since_the_quintile_order_times() -> None:
    book, _ = _shop()
    quantiles = book.quantiles("big", NOW, SETTINGS)
    assert quantiles.recency is not None
    ages_in_days = [age / DAY_S for age in quantiles.recency.ages]
    # Last orders uniform over two years: quintiles of age at 584, 438, 292 and 146 days.
    for got, expected in zip(ages_in_days, [584, 438, 292, 146], strict=True):
        assert abs(got - expected) <= 730 * 0.03
