"""Per-shop token buckets: one noisy shop cannot starve the others."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class TokenBucket:
    """Allows `rate` events per second on average, bursts up to `burst`."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._clock = clock
        self._at = clock()

    def take(self, cost: float) -> float:
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


class ShopRateLimiter:
    """A bucket per shop; the burst is one second's worth of events (at least one batch).

    With several worker processes each one holds `share` of every shop's rate, so that all
    workers together admit the configured rate and not a multiple of it (README, "Several
    worker processes").
    """

    def __init__(
        self, min_burst: int, clock: Callable[[], float] = time.monotonic, share: float = 1.0
    ) -> None:
        self._buckets: dict[str, TokenBucket] = {}
        self._min_burst = min_burst
        self._clock = clock
        self._share = share

    def take(self, shop_id: str, rate_per_s: int, cost: int) -> int:
        """0 when allowed, else the whole seconds to wait (for Retry-After)."""
        rate = rate_per_s * self._share
        bucket = self._buckets.get(shop_id)
        if bucket is None or bucket.rate != rate:
            burst = max(rate, self._min_burst)
            bucket = self._buckets[shop_id] = TokenBucket(rate, burst, self._clock)
        wait = bucket.take(cost)
        return 0 if wait == 0 else max(1, math.ceil(wait))

    def refund(self, shop_id: str, cost: int) -> None:
        """Give back what a request took when its events were not published after all."""
        bucket = self._buckets.get(shop_id)
        if bucket is not None:
            bucket.refund(cost)
