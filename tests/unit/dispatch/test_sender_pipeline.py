"""The sender as a pipeline: the provider's concurrency is what it must keep busy. A slow call
holds back its own message only (the batch's other outcomes are recorded, and the next batches
are admitted, while it waits), and deciding a batch gives the event loop back between slices,
so that the answers of calls in flight are read while it decides."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

from services.dispatch.providers.base import SendResult
from services.dispatch.sender import Sender
from services.dispatch.templates.store import RenderedSms
from tests.support.clocks import PinnedClock
from tests.support.dispatch_factories import NOON, FakeDelivery, cart_fired, contact, rig

SHOP = "acme"


@dataclass
class SlowCalls(FakeDelivery):
    """SMS calls whose number (1-based, in the order they start) is in `slow` are answered only
    once `answer` is set."""

    slow: set[int] = field(default_factory=set)
    answer: asyncio.Event = field(default_factory=asyncio.Event)
    started: int = 0

    async def sms(self, *, to: str, rendered: RenderedSms, message_id: str) -> SendResult:
        self.started += 1
        if self.started in self.slow:
            await self.answer.wait()
        return await super().sms(to=to, rendered=rendered, message_id=message_id)


class RunningClock(PinnedClock):
    """Pinned campaign time whose monotonic reading moves a second each time it is read: every
    slice of work looks long."""

    def monotonic(self) -> float:
        self.elapsed += 1.0
        return self.elapsed


async def _let_run() -> None:
    for _ in range(200):  # nothing here waits on I/O: what can run has run within these
        await asyncio.sleep(0)


def _phone(n: int) -> str:
    """A number of its own per customer: SMS to one number take turns."""
    return f"+316123{n:05d}"


def _sender(sender: Sender | None) -> Sender:
    assert sender is not None
    return sender


async def test_a_slow_call_holds_back_its_own_message_not_its_batch_or_the_next() -> None:
    clock = PinnedClock(NOON)
    delivery = SlowCalls(clock, slow={1, 5})  # one call of each of the first two batches
    r = rig(clock, delivery=delivery, claim_batch=4, rounds_in_flight=2)
    fired = [cart_fired(SHOP, f"c{n}", channels=("sms",)) for n in range(12)]
    await r.enqueue(*fired, facts=[contact(SHOP, f"c{n}", phone=_phone(n)) for n in range(12)])
    sender = _sender(r.dispatch.sender)

    for _ in range(2):
        assert await sender.run_round() == 4
        await _let_run()
    third = await asyncio.wait_for(sender.run_round(), timeout=10)
    await _let_run()

    assert third == 4, "admitted while both earlier batches wait for one call each"
    states = [r.store.message(f.id).state for f in fired]
    # A batch's outcomes are recorded in two groups as its calls answer: the third batch's
    # four, and the first group of two of each batch a slow call holds.
    assert states.count("sent") == 8, states
    assert len(r.producer.statuses()) == 8

    delivery.answer.set()
    await sender.drain()
    assert {r.store.message(f.id).state for f in fired} == {"sent"}
    assert len(r.producer.statuses()) == 12


async def test_deciding_a_batch_lets_other_work_run_between_slices() -> None:
    r = rig(RunningClock(NOON), claim_batch=10)
    fired = [cart_fired(SHOP, f"c{n}", channels=("sms",)) for n in range(10)]
    await r.enqueue(*fired, facts=[contact(SHOP, f"c{n}", phone=_phone(n)) for n in range(10)])
    sender = _sender(r.dispatch.sender)
    ticks = 0
    seen: list[int] = []

    async def elsewhere() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    decide = sender._decide

    def watched(*args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(ticks)
        return decide(*args, **kwargs)

    sender._decide = watched  # type: ignore[method-assign]
    other = asyncio.create_task(elsewhere())
    try:
        assert await sender.run_round() == 10
        await sender.drain()
    finally:
        other.cancel()

    assert len(seen) == 10
    assert all(b > a for a, b in itertools.pairwise(seen)), seen
    assert {r.store.message(f.id).state for f in fired} == {"sent"}
