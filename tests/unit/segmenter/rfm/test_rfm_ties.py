"""Customers with the same value get the same score: ties never spread over 1-5."""

from __future__ import annotations

import random
from collections import Counter

from services.segmenter.rfm.book import RfmBook
from services.segmenter.rfm.settings import RfmSettings
from tests.unit.segmenter.rfm.builders import NOW, SMALL, book_of, buyer


def test_a_shop_whose_buyers_all_look_alike_scores_them_all_one() -> None:
    customers = [buyer(orders=1, revenue="25", days_ago=3) for _ in range(10)]
    book = book_of("s1", customers)
    scores = {book.scores("s1", c, NOW, SMALL)[0] for c in customers}
    assert len(scores) == 1
    only = scores.pop()
    assert only is not None
    assert (only.r, only.f, only.m) == (1, 1, 1)


def test_a_value_equal_to_a_boundary_scores_the_same_for_everyone() -> None:
    # 1 order: 7 of 10 buyers; 2 orders: 2; 3 orders: 1.
    customers = [buyer(orders=n) for n in [1] * 7 + [2] * 2 + [3]]
    book = book_of("s1", customers)
    quantiles = book.quantiles("s1", NOW, SMALL)
    assert quantiles.frequency is not None
    assert quantiles.frequency.bounds == (1.0, 1.0, 1.0, 2.0)
    by_orders = {c.orders: book.scores("s1", c, NOW, SMALL)[0] for c in customers}
    assert {n: s.f for n, s in by_orders.items() if s is not None} == {1: 1, 2: 4, 3: 5}


def test_many_single_order_buyers_in_a_large_shop_share_one_score() -> None:
    rng = random.Random(7)
    orders = [1] * 5_500 + [2] * 2_000 + [3] * 1_000 + [rng.randint(4, 10) for _ in range(1_500)]
    book = RfmBook()
    customers = [buyer(orders=n, revenue=str(rng.randint(1, 10_000))) for n in orders]
    for facts in customers:
        book.observe("s1", facts)
    settings = RfmSettings()
    by_orders: dict[int, Counter[int]] = {}
    for facts in customers:
        scores, _ = book.scores("s1", facts, NOW, settings)
        assert scores is not None
        by_orders.setdefault(facts.orders, Counter())[scores.f] += 1
    # Ranks: 1 order 0-55%, 2 orders 55-75%, 3 orders 75-85%: each group gets the quintile
    # it starts in, all of it.
    assert by_orders[1] == Counter({1: 5_500})
    assert by_orders[2] == Counter({3: 2_000})
    assert by_orders[3] == Counter({4: 1_000})
    assert all(set(counts) == {5} for n, counts in by_orders.items() if n >= 4)
