"""Each shop is ranked among its own buyers, and monetary among buyers in one currency."""

from __future__ import annotations

from decimal import Decimal

from services.segmenter.rfm.settings import RfmSettings
from tests.unit.segmenter.rfm.builders import NOW, SMALL, book_of, buyer


def test_two_shops_never_mix() -> None:
    cheap = [buyer(orders=1, revenue=str(10 * (i + 1)), days_ago=100 + i) for i in range(10)]
    dear = [buyer(orders=9, revenue=str(1_000 * (i + 1)), days_ago=i) for i in range(10)]
    book = book_of("a", cheap)
    for facts in dear:
        book.observe("b", facts)
    assert (book.buyers("a"), book.buyers("b"), book.buyers("c")) == (10, 10, 0)
    top_of_a = cheap[-1]
    in_a, _ = book.scores("a", top_of_a, NOW, SMALL)
    in_b, _ = book.scores("b", top_of_a, NOW, SMALL)
    assert in_a is not None and in_b is not None
    assert in_a.m == 5
    assert in_b.m == 1
    assert book.quantiles("a", NOW, SMALL).monetary["EUR"].bounds == (20.0, 40.0, 60.0, 80.0)


def test_a_shop_below_min_customers_is_not_lifted_by_a_large_shop() -> None:
    book = book_of("big", [buyer(revenue=str(i)) for i in range(1, 101)])
    book.observe("small", buyer(revenue="30"))
    quantiles = book.quantiles("small", NOW, SMALL)
    assert (quantiles.frequency, quantiles.monetary) == (None, {})


def test_monetary_counts_the_shops_currency_only() -> None:
    customers = [buyer(revenue=str(10 * (i + 1))) for i in range(10)]
    rich_elsewhere = buyer(revenue="10", other={"USD": Decimal(1_000_000)})
    book = book_of("s1", [*customers, rich_elsewhere])
    assert set(book.quantiles("s1", NOW, SMALL).monetary) == {"EUR"}
    scores, _ = book.scores("s1", rich_elsewhere, NOW, SMALL)
    assert scores is not None
    assert scores.m == 1
    fixed, _ = book_of("s2", [rich_elsewhere]).scores("s2", rich_elsewhere, NOW, RfmSettings())
    assert fixed is not None
    assert fixed.m == 1


def test_buyers_in_two_currencies_are_ranked_apart() -> None:
    # A shop that declares no currency: each customer's revenue is in their first order's.
    euros = [buyer(revenue=str(10 * (i + 1)), currency="EUR") for i in range(10)]
    dollars = [buyer(revenue=str(1_000 * (i + 1)), currency="USD") for i in range(10)]
    book = book_of("s1", [*euros, *dollars])
    quantiles = book.quantiles("s1", NOW, SMALL)
    assert quantiles.monetary["EUR"].bounds == (20.0, 40.0, 60.0, 80.0)
    assert quantiles.monetary["USD"].bounds == (2_000.0, 4_000.0, 6_000.0, 8_000.0)
    lowest_dollar, _ = book.scores("s1", dollars[0], NOW, SMALL)
    top_euro, _ = book.scores("s1", euros[-1], NOW, SMALL)
    assert lowest_dollar is not None and top_euro is not None
    assert (lowest_dollar.m, top_euro.m) == (1, 5)


def test_a_currency_with_few_buyers_uses_the_fixed_monetary_boundaries() -> None:
    euros = [buyer(revenue=str(10 * (i + 1))) for i in range(10)]
    one_dollar_buyer = buyer(revenue="400", currency="USD")
    book = book_of("s1", [*euros, one_dollar_buyer])
    assert "USD" not in book.quantiles("s1", NOW, SMALL).monetary
    scores, _ = book.scores("s1", one_dollar_buyer, NOW, SMALL)
    assert scores is not None
    assert scores.m == 4  # 400 reaches the fixed boundary of 4
