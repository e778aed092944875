"""The one token bucket: its rate, its burst, debt for a dear request, and waiting in turn."""

from __future__ import annotations

import asyncio

import pytest

from shared.token_bucket import TokenBucket


class Time:
    """A monotonic reading that only moves when the bucket sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def test_a_full_bucket_allows_its_burst_then_says_how_long_to_wait() -> None:
    time = Time()
    bucket = TokenBucket(rate=10, burst=5, clock=time)
    assert [bucket.take() for _ in range(5)] == [0.0] * 5
    assert bucket.take() == pytest.approx(0.1)
    time.now += 0.1
    assert bucket.take() == 0.0


def test_a_request_dearer_than_the_burst_passes_once_full_and_leaves_debt() -> None:
    time = Time()
    bucket = TokenBucket(rate=2, burst=2, clock=time)
    assert bucket.take(5) == 0.0
    assert bucket.take(1) == pytest.approx(2.0)  # 3 tokens of debt, then one more


def test_a_refund_gives_back_what_was_taken_up_to_the_burst() -> None:
    bucket = TokenBucket(rate=1, burst=2, clock=Time())
    bucket.take(2)
    bucket.refund(5)
    assert bucket.take(2) == 0.0


async def test_acquire_paces_waiters_at_the_rate() -> None:
    time = Time()
    bucket = TokenBucket(rate=4, burst=1, clock=time, sleep=time.sleep)
    await asyncio.gather(*(bucket.acquire() for _ in range(5)))
    assert time.now == pytest.approx(1.0)  # one from the burst, four more at 4 a second
    assert len(time.slept) == 4


def test_a_bucket_without_a_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="positive rate"):
        TokenBucket(rate=0, burst=1, clock=Time())
