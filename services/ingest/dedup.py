"""Recently acknowledged event ids, so that a retried delivery is not published again.

This is the first line against duplicates, not the guarantee: it is per process and bounded.
The guarantee is the deterministic event id, which every consumer uses to drop a record it
has seen (README, "Duplicates"). An id is remembered only after the broker acknowledged it,
so a failed publish can always be retried.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable


class RecentIds:
    def __init__(
        self, window_s: float, max_ids: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._window_s = window_s
        self._max_ids = max_ids
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __contains__(self, event_id: object) -> bool:
        at = self._seen.get(event_id)  # type: ignore[call-overload]
        return at is not None and self._clock() - at <= self._window_s

    def __len__(self) -> int:
        return len(self._seen)

    def remember(self, event_ids: Iterable[str]) -> None:
        if self._max_ids == 0:
            return
        now = self._clock()
        for event_id in event_ids:
            self._seen[event_id] = now
            self._seen.move_to_end(event_id)
        self._evict(now)

    def _evict(self, now: float) -> None:
        while self._seen:
            oldest_id, at = next(iter(self._seen.items()))
            if len(self._seen) > self._max_ids or now - at > self._window_s:
                del self._seen[oldest_id]
            else:
                break
