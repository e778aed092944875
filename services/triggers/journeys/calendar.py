"""Yearly occasions (birthday, first-purchase anniversary) at a local time of day.

- The customer's IANA zone, else the shop's default zone from the campaign file.
- A local time that does not exist (the clock jumps over it when daylight saving starts) is
  sent at the first instant after the jump: 02:30 on a day that skips 02:00-03:00 -> 03:00.
- A local time that happens twice (when daylight saving ends) is sent the first time (fold=0).
- Feb 29 is celebrated on Feb 28 in years without it.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def zone_of(name: str | None, default: ZoneInfo) -> ZoneInfo:
    if name is None:
        return default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return default


def occurrence(month: int, day: int, year: int) -> date:
    """The day a yearly date falls on in `year` (Feb 29 -> Feb 28 outside leap years)."""
    if month == 2 and day == 29 and not calendar.isleap(year):
        return date(year, 2, 28)
    return date(year, month, day)


def local_instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant of wall-clock `day at` in `zone`, resolving gaps and folds as above."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    # In a gap: fold=0 and fold=1 land on either side of the transition; find its second.
    other = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    low, high = sorted((int(first.timestamp()), int(other.timestamp())))
    new_offset = datetime.fromtimestamp(high, UTC).astimezone(zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, UTC).astimezone(zone).utcoffset() == new_offset:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def local_date(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()
