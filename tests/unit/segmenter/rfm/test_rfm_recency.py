"""Recency moves with time: the score drops exactly at the returned `changes_at`, from the
fixed boundaries and from the shop's quantiles alike."""

from __future__ import annotations

import math

from services.segmenter.profiles.facts import DAY_S
from services.segmenter.rfm.book import RfmBook
from services.segmenter.rfm.settings import RfmSettings
from tests.unit.segmenter.rfm.builders import NOW, SMALL, book_of, buyer

DEFAULTS = RfmSettings()


def _r(
    book: RfmBook, days_ago: float, at: float, settings: RfmSettings
) -> tuple[int, float | None]:
    scores, changes_at = book.scores("s1", buyer(days_ago=days_ago), at, settings)
    assert scores is not None
    return scores.r, changes_at


def test_fixed_recency_drops_at_each_boundary_and_then_never() -> None:
    book = RfmBook()
    last = NOW  # ordered at NOW
    seen = []
    at = NOW
    while True:
        r, changes_at = _r(book, 0, at, DEFAULTS)
        seen.append((r, changes_at))
        if changes_at is None:
            break
        assert changes_at > at
        at = changes_at
    assert seen == [
        (5, last + 30 * DAY_S),
        (4, last + 90 * DAY_S),
        (3, last + 180 * DAY_S),
        (2, last + 365 * DAY_S),
        (1, None),
    ]


def test_fixed_recency_changes_at_is_the_first_instant_of_the_lower_score() -> None:
    book = RfmBook()
    r, changes_at = _r(book, 0, NOW, DEFAULTS)
    assert (r, changes_at) == (5, NOW + 30 * DAY_S)
    assert changes_at is not None
    just_before = math.nextafter(changes_at, 0)
    assert _r(book, 0, just_before, DEFAULTS) == (5, changes_at)
    assert _r(book, 0, changes_at, DEFAULTS)[0] == 4


def _ten_buyers(refresh_every: float) -> RfmBook:
    """Last orders 1..10 days before NOW: time quintiles 9, 7, 5 and 3 days ago."""
    return book_of("s1", [buyer(days_ago=d) for d in range(1, 11)], refresh_every)


def test_quantile_recency_is_the_rank_of_the_last_order_time() -> None:
    book = _ten_buyers(refresh_every=30 * DAY_S)
    quantiles = book.quantiles("s1", NOW, SMALL)
    assert quantiles.recency is not None
    assert quantiles.recency.ages == tuple(d * DAY_S for d in (9, 7, 5, 3))
    rs = [_r(book, d, NOW, SMALL)[0] for d in range(1, 11)]
    assert rs == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]


def test_quantile_recency_drops_exactly_at_changes_at_between_refreshes() -> None:
    book = _ten_buyers(refresh_every=30 * DAY_S)
    book.quantiles("s1", NOW, SMALL)  # boundaries computed at NOW, held as ages
    r, changes_at = _r(book, 1, NOW, SMALL)
    assert (r, changes_at) == (5, NOW + 2 * DAY_S)  # ordered a day ago; age 3 days loses 5
    assert changes_at is not None
    assert _r(book, 1, math.nextafter(changes_at, 0), SMALL)[0] == 5
    r, later = _r(book, 1, changes_at, SMALL)
    assert (r, later) == (4, NOW + 4 * DAY_S)
    assert _r(book, 1, NOW + 8 * DAY_S, SMALL) == (1, None)


def test_quantile_boundaries_are_held_until_the_refresh_period() -> None:
    book = _ten_buyers(refresh_every=3_600)
    first = book.quantiles("s1", NOW, SMALL)
    for _ in range(10):
        book.observe("s1", buyer(days_ago=0.5))
    assert book.quantiles("s1", NOW + 3_599, SMALL) is first
    refreshed = book.quantiles("s1", NOW + 3_600, SMALL)
    assert refreshed is not first
    assert refreshed.recency is not None
    # 20 buyers: 10 ordered 10..1 days ago, 10 half a day ago; ages counted at the refresh.
    expected = tuple(d * DAY_S + 3_600 for d in (7, 3, 0.5, 0.5))
    assert refreshed.recency.ages == expected


def test_a_customer_who_orders_again_scores_by_the_new_order() -> None:
    book = RfmBook()
    assert _r(book, 400, NOW, DEFAULTS) == (1, None)
    assert _r(book, 0, NOW, DEFAULTS)[0] == 5
