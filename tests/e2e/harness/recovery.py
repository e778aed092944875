"""Recovery after a fault: how long from its end until consumer lag is back where it was
before it began. Pure: samples in, seconds out."""

from __future__ import annotations

from collections.abc import Sequence

Sample = tuple[float, int]
"""(wall time, total lag)."""

BASELINE_WINDOW_S = 10.0
SLACK = 50
"""Records of lag that count as "back": the load keeps some lag in flight at any moment."""


def baseline(samples: Sequence[Sample], start: float, window_s: float = BASELINE_WINDOW_S) -> int:
    """The highest lag seen in the `window_s` before `start` (0 when none was sampled)."""
    before = [lag for at, lag in samples if start - window_s <= at < start]
    return max(before, default=0)


def recovery_s(
    samples: Sequence[Sample],
    start: float,
    end: float,
    *,
    window_s: float = BASELINE_WINDOW_S,
    slack: int = SLACK,
) -> float | None:
    """Seconds from `end` to the first sample at or after it whose lag is at most the
    pre-fault baseline plus `slack`; None when that never happened within the samples."""
    level = baseline(samples, start, window_s) + slack
    for at, lag in sorted(samples):
        if at >= end and lag <= level:
            return max(0.0, at - end)
    return None


def peak_between(samples: Sequence[Sample], start: float, end: float) -> int:
    """The highest lag sampled from `start` to `end`."""
    return max((lag for at, lag in samples if start <= at <= end), default=0)
