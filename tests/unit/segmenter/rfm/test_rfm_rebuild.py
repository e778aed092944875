"""The book is fed incrementally (stale values stay) and rebuilt from the profiles, the fresh
set swapped in whole."""

from __future__ import annotations

import pytest

from services.segmenter.profiles.facts import OrderFacts
from services.segmenter.rfm.book import RfmBook
from services.segmenter.rfm.sketches import SketchSet
from tests.unit.segmenter.rfm.builders import NOW, SMALL, book_of, buyer, lead


def test_an_unchanged_buyer_adds_nothing_and_a_changed_one_is_not_counted_twice() -> None:
    sketches = SketchSet()
    first = buyer(orders=1, revenue="10")
    assert sketches.observe("s1", first)
    assert not sketches.observe("s1", first, before=first)  # a page view
    assert sketches.observe("s1", buyer(orders=2, revenue="30"), before=first)
    shop = sketches.shop("s1")
    assert shop is not None
    assert (shop.buyers, shop.frequency.n) == (1, 2)


def test_a_lead_adds_nothing_and_becoming_a_buyer_counts_once() -> None:
    sketches = SketchSet()
    assert not sketches.observe("s1", lead())
    assert sketches.shop("s1") is None
    assert sketches.observe("s1", buyer(), before=lead())
    shop = sketches.shop("s1")
    assert shop is not None
    assert (shop.buyers, shop.buyers_in) == (1, {"EUR": 1})


def test_a_buyer_whose_orders_were_all_cancelled_leaves_a_stale_value() -> None:
    sketches = SketchSet()
    sketches.observe("s1", buyer())
    assert not sketches.observe("s1", lead(), before=buyer())
    shop = sketches.shop("s1")
    assert shop is not None
    assert (shop.buyers, shop.frequency.n) == (1, 1)


def _halves() -> tuple[list[OrderFacts], list[OrderFacts]]:
    low = [buyer(revenue="10") for _ in range(10)]
    high = [buyer(revenue="1000") for _ in range(5)]
    return low, high


def test_stale_values_stay_until_the_rebuild_swaps_a_fresh_set_in() -> None:
    low, high = _halves()
    book = book_of("s1", low)
    for before, after in zip(low[:5], high, strict=True):
        book.observe("s1", after, before=before)  # five buyers spend 990 more
    assert book.buyers("s1") == 10
    # The sketch holds 10 x 10 (five of them stale) and 5 x 1000: 1000 is in the top third.
    stale, _ = book.scores("s1", high[0], NOW, SMALL)
    assert stale is not None
    assert stale.m == 4

    fresh = book.begin_rebuild()
    for facts in [*low[5:], *high]:
        fresh.observe("s1", facts)
    assert book.rebuilding
    assert book.scores("s1", high[0], NOW, SMALL)[0] == stale  # still the live set
    book.finish_rebuild()
    assert not book.rebuilding
    rebuilt, _ = book.scores("s1", high[0], NOW, SMALL)  # cache dropped by the swap
    assert rebuilt is not None
    assert rebuilt.m == 3  # 1000 is now the top half: ranks 50%-100%
    assert book.buyers("s1") == 10


def test_a_change_during_a_rebuild_reaches_the_fresh_set() -> None:
    book = book_of("s1", [buyer(revenue=str(10 * (i + 1))) for i in range(10)])
    fresh = book.begin_rebuild()
    for i in range(9):
        fresh.observe("s1", buyer(revenue=str(10 * (i + 1))))
    book.observe("s1", buyer(revenue="100"), before=lead())  # read before the change
    book.finish_rebuild()
    assert book.buyers("s1") == 10


def test_a_rebuild_drops_shops_that_are_gone() -> None:
    book = book_of("gone", [buyer(revenue=str(i)) for i in range(1, 11)])
    assert book.quantiles("gone", NOW, SMALL).frequency is not None
    book.begin_rebuild()
    book.finish_rebuild()
    assert book.buyers("gone") == 0
    assert book.quantiles("gone", NOW, SMALL).frequency is None


def test_finish_without_begin_is_an_error_and_abandon_keeps_the_live_set() -> None:
    book = book_of("s1", [buyer()])
    with pytest.raises(RuntimeError):
        book.finish_rebuild()
    book.begin_rebuild()
    book.abandon_rebuild()
    assert not book.rebuilding
    assert book.buyers("s1") == 1


def test_refresh_every_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RfmBook(refresh_every=0)
