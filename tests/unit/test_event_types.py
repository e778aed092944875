"""Times and money at the edges of what Nudge accepts: refused with a reason, never overflowing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from shared.events.types import (
    EARLIEST_TIME,
    LATEST_TIME,
    MONEY_RANGE,
    Money,
    Timestamp,
    add_amounts,
    check_amount,
)


class _Timed(BaseModel):
    at: Timestamp


@pytest.mark.parametrize(
    "text",
    [
        "0001-01-01T00:00:00+01:00",  # astimezone overflows below year 1
        "9999-12-31T23:59:59-01:00",  # ... and above year 9999
        "0001-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "3000-01-01T00:00:00Z",
    ],
)
def test_times_outside_the_range_are_refused_not_overflowing(text: str) -> None:
    with pytest.raises(ValidationError) as raised:
        _Timed.model_validate({"at": text})
    error = raised.value.errors()[0]
    assert error["loc"] == ("at",)
    assert "out of range" in error["msg"]


def test_times_are_kept_in_utc_and_the_range_ends_are_inclusive_exclusive() -> None:
    assert _Timed.model_validate({"at": "2026-01-01T00:00:00+05:00"}).at == datetime(
        2025, 12, 31, 19, tzinfo=UTC
    )
    assert _Timed.model_validate({"at": EARLIEST_TIME}).at == EARLIEST_TIME
    just_before_end = datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert just_before_end < LATEST_TIME
    assert _Timed.model_validate({"at": just_before_end}).at == just_before_end


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValidationError):
        _Timed.model_validate({"at": "2026-01-01T00:00:00"})


@pytest.mark.parametrize(
    "text", ["1e1000000", "-1e1000000", "1e-1000000", "1234567890123", "0.0000001", "NaN", "-Inf"]
)
def test_amounts_outside_the_money_range_are_refused_before_any_arithmetic(text: str) -> None:
    with pytest.raises(ValueError, match="amounts must be"):
        check_amount(Decimal(text))
    with pytest.raises(ValidationError):
        Money.model_validate({"amount": text, "currency": "EUR"})


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1E+11", "100000000000"),
        ("0E+1000000", "0"),
        ("1.50000000000000000000", "1.500000"),
        ("-12.30", "-12.30"),
        ("999999999999.999999", "999999999999.999999"),
    ],
)
def test_accepted_amounts_are_kept_in_canonical_form(text: str, canonical: str) -> None:
    assert str(check_amount(Decimal(text))) == canonical
    money = Money.model_validate({"amount": text, "currency": "EUR"})
    assert str(money.amount) == canonical


def test_sums_of_amounts_in_range_are_exact() -> None:
    largest = Decimal("999999999999.999999")
    assert add_amounts([largest] * 1000) == largest * 1000
    assert add_amounts([Decimal("0.000001")] * 3, start=Decimal("1")) == Decimal("1.000003")


def test_the_range_is_described_once() -> None:
    assert "12 digits before the point and 6 after" in MONEY_RANGE
