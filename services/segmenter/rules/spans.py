"""Lengths of time in rules: fixed (`30d`, `12h`, `2w`, `1d12h`), or relative to the customer's
own repeat interval with a fallback (`2 x repeat_interval else 90d`), and `max(...)` /
`min(...)` of them.

A span is read per customer; it depends on the profile only, never on `now`, so a window's end
(`last_order + span`) is a fixed moment until the next event. A repeat interval under a day is
not a rhythm (two orders in one session): the fallback applies, as in the lifecycle stages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from services.segmenter.lifecycle import MIN_INTERVAL_DAYS
from services.segmenter.profiles.facts import DAY_S
from services.segmenter.rules.subject import Subject

HOUR_S: Final = 3_600.0
_UNITS: Final = {"w": 7 * DAY_S, "d": DAY_S, "h": HOUR_S}
_PART: Final = re.compile(r"(\d+)([wdh])")


def parse_fixed(text: str) -> float:
    """Seconds of a duration literal such as `30d`, `12h`, `2w` or `1d12h`."""
    return sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(text))


def show(seconds: float) -> str:
    """A length for reasons: `30d`, `12h`, `2.5d`, `36m`."""
    if seconds >= DAY_S:
        days = seconds / DAY_S
        return f"{days:.0f}d" if days == round(days) else f"{days:.1f}d"
    if seconds >= HOUR_S:
        hours = seconds / HOUR_S
        return f"{hours:.0f}h" if hours == round(hours) else f"{hours:.1f}h"
    return f"{max(seconds, 0.0) / 60:.0f}m"


class Span:
    __slots__ = ()

    def seconds(self, subject: Subject) -> float | None:
        """The length for this customer; None only where `may_be_unknown`."""
        raise NotImplementedError

    @property
    def may_be_unknown(self) -> bool:
        raise NotImplementedError

    def explain(self, subject: Subject) -> str:
        """Where the length came from, for reasons (`2 x repeat_interval 14d`)."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Fixed(Span):
    length: float

    def seconds(self, subject: Subject) -> float | None:
        return self.length

    @property
    def may_be_unknown(self) -> bool:
        return False

    def explain(self, subject: Subject) -> str:
        return show(self.length)


@dataclass(frozen=True, slots=True)
class Scaled(Span):
    """`factor x repeat_interval`, else `fallback` for a customer without an interval."""

    factor: float
    fallback: Span | None

    def seconds(self, subject: Subject) -> float | None:
        days = subject.orders.repeat_interval_days
        if days is not None and days >= MIN_INTERVAL_DAYS:
            return self.factor * days * DAY_S
        return self.fallback.seconds(subject) if self.fallback is not None else None

    @property
    def may_be_unknown(self) -> bool:
        return self.fallback is None or self.fallback.may_be_unknown

    def explain(self, subject: Subject) -> str:
        days = subject.orders.repeat_interval_days
        factor = f"{self.factor:g}"
        if days is not None and days >= MIN_INTERVAL_DAYS:
            interval = show(days * DAY_S)
            return f"{show(self.factor * days * DAY_S)} ({factor} x repeat_interval {interval})"
        if self.fallback is None:
            return f"{factor} x repeat_interval (none)"
        return f"{self.fallback.explain(subject)} (no repeat_interval)"


@dataclass(frozen=True, slots=True)
class Extreme(Span):
    """`max(a, b, ...)` or `min(a, b, ...)` of the parts that are known."""

    parts: tuple[Span, ...]
    longest: bool

    def seconds(self, subject: Subject) -> float | None:
        known = [s for s in (part.seconds(subject) for part in self.parts) if s is not None]
        if not known:
            return None
        return max(known) if self.longest else min(known)

    @property
    def may_be_unknown(self) -> bool:
        return all(part.may_be_unknown for part in self.parts)

    def explain(self, subject: Subject) -> str:
        length = self.seconds(subject)
        name = "max" if self.longest else "min"
        inner = ", ".join(part.explain(subject) for part in self.parts)
        return f"{show(length) if length is not None else 'unknown'} ({name} of {inner})"
