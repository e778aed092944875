"""A batch is never cut short: a stop waits for it, a failure exits before acknowledging."""

from __future__ import annotations

import asyncio
from typing import NoReturn

import pytest

from shared import faust_runtime as worker


class Exited(Exception):
    pass


@pytest.fixture(autouse=True)
def no_real_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    def exit_instead(exc: BaseException | None) -> NoReturn:
        raise Exited(exc)

    monkeypatch.setattr(worker, "exit_unacknowledged", exit_instead)


async def test_a_stop_request_lets_the_batch_finish_then_stops() -> None:
    finished = asyncio.Event()

    async def batch() -> None:
        await asyncio.sleep(0.2)
        finished.set()

    running = asyncio.create_task(worker.finish(batch()))
    await asyncio.sleep(0.05)
    running.cancel()
    await asyncio.sleep(0.01)
    running.cancel()  # asked twice: still finishing
    with pytest.raises(asyncio.CancelledError):
        await running
    assert finished.is_set()


async def test_a_failing_batch_exits_before_it_is_acknowledged() -> None:
    async def batch() -> None:
        raise RuntimeError("bug")

    with pytest.raises(Exited):
        await worker.finish(batch())


async def test_a_batch_that_outlives_the_grace_period_exits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker, "STOP_GRACE_S", 0.1)

    async def batch() -> None:
        await asyncio.sleep(10)

    running = asyncio.create_task(worker.finish(batch()))
    await asyncio.sleep(0.05)
    running.cancel()
    with pytest.raises(Exited):
        await running
