"""Money and date formatting per locale."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from services.dispatch.templates.filters import format_date, format_money
from shared.events.types import Money


@pytest.mark.parametrize(
    ("value", "language", "expected"),
    [
        ({"amount": "12.5", "currency": "EUR"}, "en", "€12.50"),
        ({"amount": "1234.5", "currency": "EUR"}, "nl", "€ 1.234,50"),
        ({"amount": "12.5", "currency": "EUR"}, "de", "12,50 €"),
        ({"amount": "1234", "currency": "USD"}, "en", "$1,234.00"),
        ({"amount": "1234", "currency": "JPY"}, "en", "¥1,234"),
        ({"amount": "9.995", "currency": "CHF"}, "en", "CHF 10.00"),
        (Money(amount=Decimal("0.1"), currency="GBP"), "en", "£0.10"),
    ],
)
def test_format_money(value: object, language: str, expected: str) -> None:
    assert format_money(value, language) == expected


def test_money_needs_amount_and_currency() -> None:
    with pytest.raises(ValueError, match="amount and a currency"):
        format_money({"amount": "1"})


def test_format_date() -> None:
    assert format_date("2027-03-02T14:00:00+01:00", "day", "nl") == "dinsdag 2 maart"
    assert format_date(date(2027, 3, 2), "long", "en") == "2 March 2027"
    assert format_date(date(2027, 3, 2), "short", "xx") == "2027-03-02"
    with pytest.raises(ValueError, match="unknown date style"):
        format_date(date(2027, 3, 2), "fancy")
