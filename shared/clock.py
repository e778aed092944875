"""The one source of "now" for services whose decisions depend on time.

Injected rather than read from `datetime.now()` so that tests can pin it, and so that demos
can play a three-day campaign in about a minute: `ScaledClock` runs `scale` times faster than
the wall clock from a fixed origin. Every process given the same origin and scale agrees on
the time, which is what lets a restarted worker fire a timer at the right virtual moment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...

    def seconds_until(self, moment: datetime) -> float:
        """Wall-clock seconds to wait until `moment` of this clock (<= 0 when past)."""
        ...

    def after(self, seconds: float) -> datetime:
        """This clock's time once `seconds` of wall-clock time have passed (retry delays)."""
        ...

    def monotonic(self) -> float:
        """Seconds of wall time that never go back: for pauses and rates, which concern real
        providers and real clients even when campaign time runs scaled."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def seconds_until(self, moment: datetime) -> float:
        return (moment - self.now()).total_seconds()

    def after(self, seconds: float) -> datetime:
        return self.now() + timedelta(seconds=seconds)

    def monotonic(self) -> float:
        return time.monotonic()


@dataclass(frozen=True)
class ScaledClock:
    """Virtual time = origin + (wall time - origin) * scale."""

    origin: float
    """Unix time at which virtual and wall time coincide."""
    scale: float

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ValueError("time scale must be positive")

    def now(self) -> datetime:
        virtual = self.origin + (time.time() - self.origin) * self.scale
        return datetime.fromtimestamp(virtual, UTC)

    def seconds_until(self, moment: datetime) -> float:
        return (moment - self.now()).total_seconds() / self.scale

    def after(self, seconds: float) -> datetime:
        return self.now() + timedelta(seconds=seconds * self.scale)

    def monotonic(self) -> float:
        return time.monotonic()


def seconds_at(clock: Clock, wall: float) -> float:
    """The clock's time (unix seconds) at wall-clock moment `wall`: for a record's Kafka
    timestamp, the campaign time it was written at. Only a scaled clock differs from the wall
    clock (a test's pinned clock takes timestamps as its own time)."""
    if isinstance(clock, ScaledClock):
        return clock.origin + (wall - clock.origin) * clock.scale
    return wall


def make_clock(scale: float = 1.0, origin: float | None = None) -> Clock:
    """The wall clock at scale 1, else a scaled clock from `origin` (default: now)."""
    if scale == 1.0:
        return SystemClock()
    return ScaledClock(origin=time.time() if origin is None else origin, scale=scale)


_date_headers: dict[bool, tuple[int, str]] = {}


def date_header_now(*, usegmt: bool = False) -> str:
    """Now as an RFC 5322 date (`Tue, 24 Nov 2026 18:30:00 +0000`, or `GMT` with `usegmt`),
    formatted once a second: it has a resolution of seconds, and formatting it for every
    email and provider answer would cost more than the rest of building the header."""
    second = int(time.time())
    cached = _date_headers.get(usegmt)
    if cached is None or cached[0] != second:
        moment = datetime.fromtimestamp(second, UTC)
        cached = (second, format_datetime(moment, usegmt=usegmt))
        _date_headers[usegmt] = cached
    return cached[1]
