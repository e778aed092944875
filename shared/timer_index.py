"""Which customers have something due next (a triggers step, a segment re-evaluation),
ordered by due time, in memory.

The durable truth is in a changelogged table (the triggers' customer states carry their due
time; the segmenter keeps a `timers` table); this index is rebuilt from it after every
rebalance and kept in step with it afterwards.

Timers are kept in one bucket per whole second, and a min-heap orders the seconds that have
buckets. A tick takes the due seconds off the heap and empties their buckets, so its cost
follows the timers that are due (plus one heap step per due second), not the number pending:
the property the triggers issue asks for. Moving or cancelling a timer is a set operation; a
second whose bucket emptied is skipped when it surfaces.
"""

from __future__ import annotations

import heapq
import math


class TimerIndex:
    def __init__(self) -> None:
        self._due: dict[str, float] = {}
        self._buckets: dict[int, set[str]] = {}
        self._seconds: list[int] = []

    def __len__(self) -> int:
        return len(self._due)

    def get(self, key: str) -> float | None:
        """The due time `key` is scheduled at, None when not pending (or popped as due)."""
        return self._due.get(key)

    def set(self, key: str, due: float | None) -> None:
        """Schedule `key` at unix time `due`, or cancel it with None."""
        old = self._due.get(key)
        if old == due:
            return
        if old is not None:
            self._unbucket(key, old)
        if due is None:
            self._due.pop(key, None)
            return
        self._due[key] = due
        second = math.floor(due)
        bucket = self._buckets.get(second)
        if bucket is None:
            bucket = self._buckets[second] = set()
            heapq.heappush(self._seconds, second)
            if len(self._seconds) > 2 * len(self._buckets) + 1024:
                self._seconds = list(self._buckets)  # drop seconds whose bucket emptied
                heapq.heapify(self._seconds)
        bucket.add(key)

    def pop_due(self, now: float, limit: int) -> list[tuple[str, float]]:
        """Remove and return up to `limit` (key, due) pairs with due <= now, earliest second
        first (within one second in no particular order)."""
        fired: list[tuple[str, float]] = []
        seconds, buckets, due_of = self._seconds, self._buckets, self._due
        while seconds and seconds[0] <= now and len(fired) < limit:
            second = seconds[0]
            bucket = buckets.get(second)
            if not bucket:
                heapq.heappop(seconds)
                buckets.pop(second, None)
                continue
            ready = [key for key in bucket if due_of[key] <= now][: limit - len(fired)]
            for key in ready:
                bucket.discard(key)
                fired.append((key, due_of.pop(key)))
            if bucket:
                break  # the rest of this second is not due yet, or the limit was reached
            heapq.heappop(seconds)
            del buckets[second]
        return fired

    def next_due(self) -> float | None:
        seconds, buckets = self._seconds, self._buckets
        while seconds and not buckets.get(seconds[0]):
            buckets.pop(heapq.heappop(seconds), None)
        if not seconds:
            return None
        return min(self._due[key] for key in buckets[seconds[0]])

    def clear(self) -> None:
        self._due.clear()
        self._buckets.clear()
        self._seconds.clear()

    def _unbucket(self, key: str, due: float) -> None:
        second = math.floor(due)
        bucket = self._buckets.get(second)
        if bucket is not None:
            bucket.discard(key)
            if not bucket:
                del self._buckets[second]  # its heap entry is dropped when it surfaces
