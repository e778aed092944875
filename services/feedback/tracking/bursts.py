"""The links of each message clicked in the last second, to tell a scanner's burst (every link
of a message at once) from a person's click (machines.py, `burst`).

Kept in this process only, bounded (the messages clicked most recently); with several
replicas behind a load balancer, a burst spread over them is seen in part by each (each sees
the second link its share of the burst follows), and the other signals still apply.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

WINDOW_S: Final = 1.0
CAPACITY: Final = 100_000
"""Messages remembered at once (each with the few clicks of its last second)."""
_PER_MESSAGE: Final = 64


class RecentClicks:
    def __init__(
        self,
        window_s: float = WINDOW_S,
        capacity: int = CAPACITY,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_s = window_s
        self.capacity = capacity
        self._clock = clock
        self._recent: dict[str, list[tuple[float, str]]] = {}
        """Message id -> (when, target) of its clicks in the window; the dict's order is the
        order of the messages' last clicks, oldest first."""

    def __len__(self) -> int:
        return len(self._recent)

    def clicked(self, message_id: str, url: str) -> bool:
        """Remember a click; whether another link of the same message was clicked within
        the window before it."""
        now = self._clock()
        since = now - self.window_s
        clicks = [c for c in self._recent.pop(message_id, ()) if c[0] > since]
        burst = any(target != url for _, target in clicks)
        clicks.append((now, url))
        self._recent[message_id] = clicks[-_PER_MESSAGE:]
        self._forget(since)
        return burst

    def _forget(self, since: float) -> None:
        """Drop messages whose last click is out of the window, and the oldest past capacity."""
        recent = self._recent
        while recent:
            oldest = next(iter(recent))
            if len(recent) <= self.capacity and recent[oldest][-1][0] > since:
                break
            del recent[oldest]
