"""A shop with fewer buyers than `min_customers` is scored on the fixed boundaries."""

from __future__ import annotations

import pytest

from services.segmenter.rfm.book import RfmBook
from services.segmenter.rfm.scores import RfmScores
from services.segmenter.rfm.settings import RfmSettings
from tests.unit.segmenter.rfm.builders import NOW, SMALL, book_of, buyer, lead

DEFAULTS = RfmSettings()


def test_a_customer_without_an_order_has_no_scores() -> None:
    book = book_of("s1", [buyer()])
    assert book.scores("s1", lead(), NOW, DEFAULTS) == (None, None)


def test_an_empty_book_scores_on_the_fixed_boundaries() -> None:
    scores, changes_at = RfmBook().scores("s1", buyer(2, "150", days_ago=10), NOW, DEFAULTS)
    assert scores == RfmScores(r=5, f=2, m=3)
    assert changes_at == pytest.approx(NOW + 20 * 86_400)


def test_the_only_customer_of_a_shop_is_not_scored_all_fives() -> None:
    only = buyer(orders=1, revenue="30", days_ago=100)
    book = book_of("s1", [only])
    scores, _ = book.scores("s1", only, NOW, DEFAULTS)
    assert scores == RfmScores(r=3, f=1, m=1)


@pytest.mark.parametrize("count", [1, 3, 10])
def test_below_min_customers_every_dimension_uses_the_fixed_boundaries(count: int) -> None:
    customers = [
        buyer(orders=1 + i, revenue=str(40 * (i + 1)), days_ago=1 + i) for i in range(count)
    ]
    book = book_of("s1", customers)
    assert book.buyers("s1") == count
    quantiles = book.quantiles("s1", NOW, DEFAULTS)
    assert (quantiles.recency, quantiles.frequency, quantiles.monetary) == (None, None, {})
    top, _ = book.scores("s1", customers[-1], NOW, DEFAULTS)
    expected_f = sum(1 for b in DEFAULTS.frequency_orders if count >= b) + 1
    expected_m = sum(1 for b in DEFAULTS.monetary if 40 * count >= b) + 1
    assert top == RfmScores(r=5, f=expected_f, m=expected_m)


@pytest.mark.parametrize(
    ("orders", "revenue", "expected"),
    [
        (1, "49.99", (1, 1)),
        (2, "50", (2, 2)),
        (3, "150.00", (3, 3)),
        (4, "399.99", (3, 3)),
        (5, "400", (4, 4)),
        (8, "1000", (5, 5)),
        (80, "1000000", (5, 5)),
        (1, "-20", (1, 1)),
    ],
)
def test_fixed_boundaries_are_reached_at_the_value_itself(
    orders: int, revenue: str, expected: tuple[int, int]
) -> None:
    scores, _ = RfmBook().scores("s1", buyer(orders, revenue), NOW, DEFAULTS)
    assert scores is not None
    assert (scores.f, scores.m) == expected


def test_a_shop_reaching_min_customers_is_scored_on_its_own_quintiles() -> None:
    customers = [buyer(revenue=str(10 * (i + 1))) for i in range(5)]
    book = book_of("s1", customers[:4])
    assert book.quantiles("s1", NOW, SMALL).frequency is None
    book = book_of("s1", customers)
    quantiles = book.quantiles("s1", NOW, SMALL)
    assert quantiles.frequency is not None
    assert quantiles.monetary["EUR"].bounds == (10.0, 20.0, 30.0, 40.0)
    scores = [book.scores("s1", c, NOW, SMALL)[0] for c in customers]
    assert [s.m for s in scores if s is not None] == [1, 2, 3, 4, 5]


def test_ten_buyers_spread_evenly_over_the_exact_quintiles() -> None:
    customers = [buyer(revenue=str(10 * (i + 1))) for i in range(10)]
    book = book_of("s1", customers)
    ms = [s.m for c in customers if (s := book.scores("s1", c, NOW, SMALL)[0]) is not None]
    assert ms == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
