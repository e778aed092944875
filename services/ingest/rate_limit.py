"""Per-shop token buckets: one noisy shop cannot starve the others."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from shared.token_bucket import TokenBucket


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
