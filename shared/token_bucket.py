"""One token bucket for every rate Nudge keeps: ingest's per-shop limits, dispatch's per-provider
pace. It reads a monotonic clock it is given (a `Clock.monotonic`, or a test's own), so that
rates are wall-time rates under a scaled campaign clock and tests move time by hand."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class TokenBucket:
    """Allows `rate` events per second on average, bursts up to `burst`."""

    def __init__(
        self,
        rate: float,
        burst: float,
        clock: Callable[[], float],
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("a token bucket needs a positive rate and burst")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._clock = clock
        self._sleep = sleep
        self._at = clock()
        self._turn = asyncio.Lock()

    def take(self, cost: float = 1.0) -> float:
        """Take `cost` tokens; returns 0 when allowed, else seconds until it would be.

        A request dearer than the whole burst (a batch whose items each became two events)
        is let through once the bucket is full and leaves it in debt, so it is slowed to the
        rate rather than refused forever.
        """
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if cost <= self._tokens or self._tokens >= self.burst:
            self._tokens -= cost
            return 0.0
        return (min(cost, self.burst) - self._tokens) / self.rate

    def refund(self, cost: float) -> None:
        self._tokens = min(self.burst, self._tokens + cost)

    async def acquire(self, cost: float = 1.0) -> None:
        """Wait until `cost` tokens are there and take them; waiters are served in turn."""
        async with self._turn:
            while (wait := self.take(cost)) > 0:
                await self._sleep(wait)
