"""OrderFacts and books for the RFM tests."""

from __future__ import annotations

from decimal import Decimal

from services.segmenter.profiles.facts import DAY_S, OrderFacts
from services.segmenter.rfm.book import RfmBook
from services.segmenter.rfm.settings import RfmSettings

NOW = 1_750_000_000.0
SMALL = RfmSettings(min_customers=5)
"""Quantiles from 5 buyers, so that exact small sketches can be checked by hand."""


def buyer(
    orders: int = 1,
    revenue: str | float = "10",
    days_ago: float = 1.0,
    currency: str = "EUR",
    other: dict[str, Decimal] | None = None,
) -> OrderFacts:
    amount = Decimal(str(revenue))
    return OrderFacts(
        orders=orders,
        currency=currency,
        revenue=amount,
        aov=amount / orders if orders else None,
        other_revenue=dict(other or {}),
        first_order_at=NOW - days_ago * DAY_S,
        last_order_at=NOW - days_ago * DAY_S,
    )


def lead() -> OrderFacts:
    return OrderFacts(orders=0, currency=None, revenue=Decimal(0), aov=None)


def book_of(shop: str, customers: list[OrderFacts], refresh_every: float = 3_600.0) -> RfmBook:
    book = RfmBook(refresh_every=refresh_every)
    for facts in customers:
        book.observe(shop, facts)
    return book
