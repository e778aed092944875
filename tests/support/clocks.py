"""A clock that stands still, for tests of code that takes a `shared.clock.Clock`."""

from __future__ import annotations

from datetime import datetime, timedelta


class PinnedClock:
    """Always `moment` (tests move it by assigning, or with `advance`, which moves the
    monotonic reading too); `after` counts from it."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment
        self.elapsed = 0.0

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)
        self.elapsed += seconds

    def monotonic(self) -> float:
        return self.elapsed

    def now(self) -> datetime:
        return self.moment

    def seconds_until(self, moment: datetime) -> float:
        return (moment - self.moment).total_seconds()

    def after(self, seconds: float) -> datetime:
        return self.moment + timedelta(seconds=seconds)
