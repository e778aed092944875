"""A live sender keeps the leases of the rows it is still sending, so a slow provider does not
get a second copy from another claim; a stopped sender starts no call, even when a provider's
library swallowed the cancellation."""

from __future__ import annotations

import asyncio
from typing import Any

from services.dispatch.providers.base import SendResult
from shared.events.shop import Channel
from tests.support.dispatch_factories import FakeDelivery, cart_fired, contact, rig

SHOP = "acme"


async def settle_calls() -> None:
    for _ in range(200):  # nothing here waits on I/O: the calls are out within these
        await asyncio.sleep(0)


async def test_rows_still_sending_are_not_taken_over_while_their_leases_are_kept() -> None:
    slow = rig(lease_s=30)
    fired = cart_fired(SHOP, "c1", channels=("email",))
    await slow.enqueue(fired, facts=[contact(SHOP, "c1")])
    slow.delivery.hang.add(Channel.EMAIL)
    sender = slow.dispatch.sender
    assert sender is not None
    assert await sender.run_round() == 1
    await settle_calls()

    other = slow.restarted(lease_s=30)  # another process on the same message log
    for _ in range(4):  # 80 s of a provider that does not answer, the lease kept every 20 s
        slow.clock.advance(20)
        await sender.keep_leases()
    # (a takeover would send again into the hanging provider: the wait bounds that)
    assert await asyncio.wait_for(other.round(), 5) == 0, "its sender is alive and waiting"
    assert len(slow.delivery.emails) == 1

    await sender.cancel_sends()  # the process dies: nobody keeps the lease any more
    slow.clock.advance(31)
    other.delivery.hang.clear()
    assert await other.round() == 1
    assert slow.store.message(fired.id).state == "sent"


async def test_a_finished_round_no_longer_keeps_its_rows() -> None:
    r = rig(lease_s=30)
    fired = cart_fired(SHOP, "c1", channels=("email",))
    await r.enqueue(fired, facts=[contact(SHOP, "c1")])
    assert await r.round() == 1
    sender = r.dispatch.sender
    assert sender is not None
    await sender.keep_leases()
    row = r.store.message(fired.id)
    assert (row.state, row.lease_until) == ("sent", None)


class SwallowsCancellation(FakeDelivery):
    """A provider client that turns a cancellation into an ordinary failure answer."""

    async def email(self, **call: Any) -> SendResult:
        try:
            return await super().email(**call)
        except asyncio.CancelledError:
            return SendResult("<swallowed@example>")


async def test_no_call_starts_once_the_sends_are_cancelled() -> None:
    base = rig(in_flight=2)
    delivery = SwallowsCancellation(base.clock)
    r = rig(base.clock, base.store, delivery, in_flight=2)
    fired = [cart_fired(SHOP, f"c{n}", channels=("email",)) for n in range(10)]
    await r.enqueue(*fired, facts=[contact(SHOP, f"c{n}") for n in range(10)])
    delivery.hang.add(Channel.EMAIL)
    sender = r.dispatch.sender
    assert sender is not None
    await sender.run_round()
    await settle_calls()
    assert delivery.calls == 2

    await sender.cancel_sends()
    await settle_calls()
    assert delivery.calls == 2, "the batch's other eight wait for their lease, unsent"
