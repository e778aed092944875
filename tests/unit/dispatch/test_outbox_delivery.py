"""Which records count as acknowledged when the sender waits for the broker."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from services.dispatch.outbox import Outbound, deliver


def record(n: int) -> Outbound:
    return Outbound("messages.status.v1", f"k{n}".encode(), f"v{n}".encode())


async def test_only_records_the_broker_acknowledged_in_time_count() -> None:
    loop = asyncio.get_running_loop()
    never: asyncio.Future[object] = loop.create_future()

    async def send(r: Outbound) -> Awaitable[object]:
        answer: asyncio.Future[object] = loop.create_future()
        match r.key:
            case b"k0":
                answer.set_result("acknowledged")
            case b"k1":
                return never
            case b"k2":
                answer.set_exception(ConnectionError("broker went away"))
            case b"k3":
                raise RuntimeError("producer stopped")
            case _:
                loop.call_later(0.01, answer.set_result, "acknowledged a little later")
        return answer

    acknowledged = await deliver(send, [record(n) for n in range(5)], timeout_s=0.2)

    assert acknowledged == [True, False, False, False, True]
    never.set_exception(ConnectionError("late failure"))  # retrieved: no "never retrieved" noise


async def test_nothing_to_deliver_returns_at_once() -> None:
    async def send(r: Outbound) -> Awaitable[object]:
        raise AssertionError("nothing should be sent")

    assert await deliver(send, [], timeout_s=60) == []
