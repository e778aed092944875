"""The period a report covers, read from its query (`from`, `to`, `granularity`).

Days are UTC days, both ends included. Without `to`, the period ends today (the service's
clock); without `from`, it starts 29 days before its end (30 days). A period is at most the
configured number of days (NUDGE_FEEDBACK_REPORT_MAX_DAYS, 366 by default) and lies within
the times events may carry (1970 to 2999). Every refusal names its parameter; parameters
reports do not take are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Final

from shared.http.problems import FieldError

DEFAULT_DAYS: Final = 30
EARLIEST: Final = date(1970, 1, 1)
LATEST: Final = date(2999, 12, 31)
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
FROM, TO, GRANULARITY = "from", "to", "granularity"


class Granularity(StrEnum):
    DAY = "day"
    WEEK = "week"
    """ISO weeks, Monday to Sunday (the first and last cut at the period's ends)."""


@dataclass(frozen=True, slots=True)
class Period:
    first: date
    last: date
    granularity: Granularity = Granularity.DAY

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def bucket_start(self, day: date) -> date:
        """The first day of the bucket `day` falls in."""
        if self.granularity is Granularity.DAY:
            return day
        return max(self.first, day - timedelta(days=day.weekday()))

    def buckets(self) -> list[tuple[date, date]]:
        """Each bucket's first and last day, in order, covering the period."""
        found = []
        start = self.first
        while start <= self.last:
            if self.granularity is Granularity.DAY:
                end = start
            else:
                end = min(self.last, start + timedelta(days=6 - start.weekday()))
            found.append((start, end))
            start = end + timedelta(days=1)
        return found


class PeriodRefused(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.reason}" for e in errors))


def field_name(parameter: str) -> str:
    """How errors name a query parameter (as the framework's own validation errors do)."""
    return f"query.{parameter}"


def _single(query: Mapping[str, Sequence[str]], name: str, errors: list[FieldError]) -> str | None:
    values = query.get(name) or []
    if len(values) > 1:
        errors.append(FieldError(field_name(name), "is given more than once"))
        return None
    return values[0] if values else None


def _day(text: str | None, name: str, errors: list[FieldError]) -> date | None:
    if text is None:
        return None
    try:
        if not _DATE.fullmatch(text):
            raise ValueError
        found = date.fromisoformat(text)
    except ValueError:
        errors.append(FieldError(field_name(name), "must be a date as YYYY-MM-DD"))
        return None
    if not EARLIEST <= found <= LATEST:
        errors.append(FieldError(field_name(name), f"must lie between {EARLIEST} and {LATEST}"))
        return None
    return found


def read_period(
    query: Mapping[str, Sequence[str]],
    *,
    today: date,
    max_days: int,
    granular: bool = False,
) -> Period:
    """The period the query asks for (`granular`: it may also choose day or week buckets);
    PeriodRefused with every error, each naming its parameter."""
    errors: list[FieldError] = []
    first = _day(_single(query, FROM, errors), FROM, errors)
    last = _day(_single(query, TO, errors), TO, errors)
    granularity = Granularity.DAY
    chosen = _single(query, GRANULARITY, errors) if granular else None
    if chosen is not None:
        try:
            granularity = Granularity(chosen)
        except ValueError:
            errors.append(FieldError(field_name(GRANULARITY), "must be day or week"))
    if errors:
        raise PeriodRefused(errors)
    if last is None:
        if first is not None and first > today:
            why = f"is after today ({today}), where a period without `to` ends"
            raise PeriodRefused([FieldError(field_name(FROM), why)])
        last = today
    if first is None:
        first = max(EARLIEST, last - timedelta(days=DEFAULT_DAYS - 1))
    if last < first:
        raise PeriodRefused([FieldError(field_name(TO), f"is before from ({first})")])
    period = Period(first, last, granularity)
    if period.days > max_days:
        raise PeriodRefused(
            [
                FieldError(
                    field_name(FROM),
                    f"the period is at most {max_days} days; {first} to {last} is {period.days}",
                )
            ]
        )
    return period
