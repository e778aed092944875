"""Durations as marketers write them: `30m`, `24h`, `3d`, `1d12h`, `2w`, or `0`.

A bare number other than 0 is refused: `30` could mean minutes or seconds, and a wrong guess
sends a message at the wrong time.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

_UNITS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_DURATION = re.compile(r"^(?:\d+[wdhms])+$")
_PART = re.compile(r"(\d+)([wdhms])")


def parse_duration(value: object) -> timedelta:
    """Parse a duration, or raise ValueError with the offending text quoted."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value == 0:
        return timedelta(0)
    text = str(value).strip().replace(" ", "")
    if text == "0":
        return timedelta(0)
    if not isinstance(value, str) or not _DURATION.match(text):
        raise ValueError(f"invalid duration '{value}': use e.g. 30m, 24h, 3d or 1d12h")
    seconds = sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(text))
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest text `parse_duration` reads back to the same value."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0"
    parts = []
    for unit, size in _UNITS.items():
        if unit == "w":
            continue
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
]
