"""Which customers have a step due next, ordered by due time, in memory.

The durable truth is the changelogged `timers` table (customer key -> due time); this index
is rebuilt from it after every rebalance and kept in step with it afterwards. A min-heap
makes one tick cost O(k log n) for k due timers out of n pending, instead of a scan over every
customer: the property the triggers issue asks for. Superseded heap entries (a timer moved or
cancelled) are skipped lazily when they surface, and compacted away when they pile up.
"""

from __future__ import annotations

import heapq


class TimerIndex:
    def __init__(self) -> None:
        self._due: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._due)

    def get(self, key: str) -> float | None:
        """The due time `key` is scheduled at, None when not pending (or popped as due)."""
        return self._due.get(key)

    def set(self, key: str, due: float | None) -> None:
        """Schedule `key` at unix time `due`, or cancel it with None."""
        if due is None:
            self._due.pop(key, None)
            return
        if self._due.get(key) == due:
            return
        self._due[key] = due
        heapq.heappush(self._heap, (due, key))
        if len(self._heap) > 2 * len(self._due) + 1024:
            self._compact()

    def pop_due(self, now: float, limit: int) -> list[tuple[str, float]]:
        """Remove and return up to `limit` (key, due) pairs with due <= now, earliest first."""
        fired: list[tuple[str, float]] = []
        heap, due_of = self._heap, self._due
        while heap and len(fired) < limit and heap[0][0] <= now:
            due, key = heapq.heappop(heap)
            if due_of.get(key) == due:
                del due_of[key]
                fired.append((key, due))
        return fired

    def next_due(self) -> float | None:
        heap, due_of = self._heap, self._due
        while heap and due_of.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def clear(self) -> None:
        self._due.clear()
        self._heap.clear()

    def _compact(self) -> None:
        self._heap = [(due, key) for key, due in self._due.items()]
        heapq.heapify(self._heap)
