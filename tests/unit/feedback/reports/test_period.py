"""A report's period: defaults, the longest period, and day or ISO-week buckets."""

from __future__ import annotations

from datetime import date

import pytest

from services.feedback.reports.period import Granularity, Period, PeriodRefused, read_period

TODAY = date(2026, 11, 30)


def read(**query: str) -> Period:
    return read_period({k: [v] for k, v in query.items()}, today=TODAY, max_days=366, granular=True)


def test_without_from_and_to_the_last_30_days_up_to_today() -> None:
    assert read() == Period(date(2026, 11, 1), TODAY)
    assert read(to="2026-01-10") == Period(date(2025, 12, 12), date(2026, 1, 10))
    assert read(**{"from": "2026-11-29"}) == Period(date(2026, 11, 29), TODAY)


def test_a_period_of_exactly_the_longest_is_taken_one_day_more_is_not() -> None:
    assert read(**{"from": "2025-11-30", "to": "2026-11-30"}).days == 366
    with pytest.raises(PeriodRefused, match="at most 366 days"):
        read(**{"from": "2025-11-29", "to": "2026-11-30"})


def test_one_day_is_a_period() -> None:
    assert read(**{"from": "2026-11-23", "to": "2026-11-23"}).buckets() == [
        (date(2026, 11, 23), date(2026, 11, 23))
    ]


def test_weeks_run_monday_to_sunday_cut_at_the_periods_ends_across_a_year() -> None:
    period = read(**{"from": "2025-12-25", "to": "2026-01-13", "granularity": "week"})
    assert period.granularity is Granularity.WEEK
    assert period.buckets() == [
        (date(2025, 12, 25), date(2025, 12, 28)),
        (date(2025, 12, 29), date(2026, 1, 4)),
        (date(2026, 1, 5), date(2026, 1, 11)),
        (date(2026, 1, 12), date(2026, 1, 13)),
    ]
    assert period.bucket_start(date(2025, 12, 26)) == date(2025, 12, 25)
    assert period.bucket_start(date(2026, 1, 1)) == date(2025, 12, 29)


def test_granularity_is_ignored_where_a_report_has_no_buckets() -> None:
    found = read_period({"granularity": ["fortnight"]}, today=TODAY, max_days=30)
    assert found.granularity is Granularity.DAY


def test_every_error_of_a_query_is_told_at_once() -> None:
    with pytest.raises(PeriodRefused) as refused:
        read(**{"from": "x", "to": "2026-02-30", "granularity": "hour"})
    assert [e.field for e in refused.value.errors] == [
        "query.from",
        "query.to",
        "query.granularity",
    ]
