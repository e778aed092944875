"""The message log's behaviour (and the outbox's, and the unit of work's), written once: the
in-memory store runs it in the unit tests, PostgreSQL's in the integration tests, each with a
one-line factory. The claim, lease and release rules here are the specification the sender
relies on to send each message once with several senders sharing the log.

A store's time: a test says how much passes (`wait`), and reads the store's `now()`; the
in-memory store moves its pinned clock, PostgreSQL's really waits (leases are short).
"""

from __future__ import annotations

import asyncio
import uuid
from abc import ABC, abstractmethod
from datetime import datetime, timedelta

import pytest

from services.dispatch.message_log import MessageRow
from services.dispatch.outbox import Outbound
from services.dispatch.ports import Sending, Settle, Store
from shared.events.shop import Channel
from shared.events.triggers import TriggerFiredEvent
from tests.support.dispatch_factories import cart_fired

LEASE_S = 0.8
"""The lease of the tests that wait for one to run out; the others' never does."""
LONG_LEASE_S = 600.0
HOUR = timedelta(hours=1)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


class MessageLogContract(ABC):
    @abstractmethod
    def store(self) -> Store:
        """A store whose log is empty."""

    @abstractmethod
    def now(self) -> datetime:
        """The store's time now (what `enqueue` makes due)."""

    @abstractmethod
    async def wait(self, seconds: float) -> None:
        """Let `seconds` of the store's time pass."""

    # --- helpers ---

    async def enqueue(self, store: Store, *fired: TriggerFiredEvent) -> set[str]:
        async with store.transaction() as tx:
            return await tx.log.enqueue(list(fired))

    async def claim(
        self,
        store: Store,
        limit: int = 10,
        *,
        lease_s: float = LONG_LEASE_S,
        ahead: timedelta = HOUR,
    ) -> list[MessageRow]:
        """A claim in a transaction of its own, due times read `ahead` of the store's now."""
        async with store.transaction() as tx:
            return await tx.log.claim(limit, lease_s, self.now() + ahead)

    async def settle(self, store: Store, *items: Settle, now: datetime | None = None) -> None:
        async with store.transaction() as tx:
            await tx.log.settle(list(items), now or self.now())

    async def sending(
        self,
        store: Store,
        row: MessageRow,
        *,
        channel: str = "email",
        address: str = "ada@example.com",
        sent_body: str | None = None,
    ) -> Sending:
        """Record the decision on a claimed row (a fresh message id)."""
        item = Sending(row.trigger_id, Channel(channel), str(uuid.uuid4()), address, sent_body)
        async with store.transaction() as tx:
            await tx.log.mark_sending([item])
        return item

    async def fired_apart(self, *fired: TriggerFiredEvent) -> Store:
        """A store with `fired` enqueued one after the other, in that order of due time."""
        store = self.store()
        for item in fired:
            await self.enqueue(store, item)
            await self.wait(0.01)
        return store

    # --- enqueue ---

    async def test_enqueue_records_each_trigger_once(self) -> None:
        store, shop = self.store(), unique("s")
        a, b = cart_fired(shop, "c1"), cart_fired(shop, "c2")
        anonymous = cart_fired(shop, "c3").model_copy(update={"customerid": None})
        assert await self.enqueue(store, a, a, b, anonymous) == {a.id, b.id}
        assert await self.enqueue(store, a) == set()
        async with store.transaction() as tx:
            assert await tx.log.still_queued([a.id, b.id, anonymous.id]) == {a.id, b.id}
            assert await tx.log.waiting() == 2

    async def test_a_taken_trigger_is_no_longer_still_queued(self) -> None:
        shop = unique("s")
        a, b = cart_fired(shop, "c1"), cart_fired(shop, "c2")
        store = await self.fired_apart(a, b)
        (taken,) = await self.claim(store, limit=1)
        assert taken.trigger_id == a.id
        async with store.transaction() as tx:
            assert await tx.log.still_queued([a.id, b.id]) == {b.id}
            assert await tx.log.waiting() == 1

    # --- claims ---

    async def test_a_claim_takes_due_rows_oldest_first(self) -> None:
        """Which rows: the oldest due; in the order they come back: any (the sender orders
        a batch itself)."""
        shop = unique("s")
        first, second, third = (cart_fired(shop, f"c{n}") for n in range(3))
        store = await self.fired_apart(first, second, third)
        (row,) = await self.claim(store, limit=1)
        assert row.trigger_id == first.id
        assert (row.shop_id, row.customer_id, row.journey_id) == (shop, "c0", "j-1")
        assert (row.attempts, row.state, row.channel, row.message_id) == (1, "queued", None, None)
        assert row.trigger == first.data
        assert {r.trigger_id for r in await self.claim(store, limit=1)} == {second.id}
        assert {r.trigger_id for r in await self.claim(store)} == {third.id}
        assert await self.claim(store) == []

    async def test_a_row_waits_until_it_is_due(self) -> None:
        shop = unique("s")
        later, now = cart_fired(shop, "c1"), cart_fired(shop, "c2")
        store = await self.fired_apart(later, now)
        (row, other) = await self.claim(store)
        due = self.now() + 2 * HOUR
        await self.settle(
            store, Settle(row.trigger_id, "deferred", "quiet_hours", due, refund=True)
        )
        await self.settle(store, Settle(other.trigger_id, "skipped", "no_consent"))
        assert await self.claim(store, ahead=HOUR) == []
        (again,) = await self.claim(store, ahead=3 * HOUR)
        assert (again.trigger_id, again.state, again.reason) == (
            later.id,
            "deferred",
            "quiet_hours",
        )
        assert again.attempts == 1, "the deferral gave its attempt back"

    async def test_a_claimed_row_is_not_claimed_again_until_its_lease_runs_out(self) -> None:
        store = await self.fired_apart(cart_fired(unique("s"), "c1"))
        (row,) = await self.claim(store, lease_s=LEASE_S)
        mark = await self.sending(store, row, channel="sms", address="+3161", sent_body="Hi Ada")
        assert await self.claim(store) == []
        await self.wait(LEASE_S / 4)
        assert await self.claim(store) == [], "still leased"
        await self.wait(LEASE_S * 1.5)
        (resumed,) = await self.claim(store)
        assert resumed.trigger_id == row.trigger_id
        assert resumed.state == "sending", "a sender died with it: resume, same message id"
        assert (resumed.channel, resumed.message_id, resumed.address) == (
            Channel.SMS,
            mark.message_id,
            "+3161",
        )
        assert resumed.sent_body == "Hi Ada"
        assert resumed.attempts == 2
        assert resumed.age_s >= LEASE_S

    async def test_a_kept_lease_is_not_taken_over_while_its_sender_waits(self) -> None:
        store = await self.fired_apart(cart_fired(unique("s"), "c1"), cart_fired(unique("s"), "c2"))
        slow, settled = await self.claim(store, lease_s=LEASE_S)
        await self.sending(store, slow, channel="sms", address="+3161", sent_body="Hi")
        await self.settle(store, Settle(settled.trigger_id, "sent", None, provider_id="SM1"))
        await self.wait(LEASE_S * 0.6)
        async with store.transaction() as tx:
            await tx.log.keep_leases([slow.trigger_id, settled.trigger_id], LEASE_S)
        await self.wait(LEASE_S * 0.6)  # past the first lease, within the kept one
        assert await self.claim(store) == [], "its sender is still waiting for the provider"
        await self.wait(LEASE_S * 1.5)
        (resumed,) = await self.claim(store)
        assert (resumed.trigger_id, resumed.state) == (slow.trigger_id, "sending")

    async def test_a_row_whose_decider_died_comes_back_undecided(self) -> None:
        store = await self.fired_apart(cart_fired(unique("s"), "c1"))
        (row,) = await self.claim(store, lease_s=LEASE_S)
        await self.wait(LEASE_S * 1.5)
        (again,) = await self.claim(store)
        assert (again.trigger_id, again.state, again.message_id) == (
            row.trigger_id,
            "sending",
            None,
        )

    async def test_one_claim_may_take_several_rows_of_one_customer(self) -> None:
        shop = unique("s")
        first, second = (cart_fired(shop, "c1", journey=j) for j in ("j-1", "j-2"))
        store = await self.fired_apart(first, second)
        assert {r.trigger_id for r in await self.claim(store)} == {first.id, second.id}

    async def test_a_customer_being_decided_is_passed_over_until_the_decision_is_recorded(
        self,
    ) -> None:
        shop = unique("s")
        first, second = (cart_fired(shop, "c1", journey=j) for j in ("j-1", "j-2"))
        other = cart_fired(shop, "c2")
        store = await self.fired_apart(first, second, other)
        (deciding,) = await self.claim(store, limit=1)
        assert deciding.trigger_id == first.id
        assert [r.trigger_id for r in await self.claim(store)] == [other.id]
        await self.sending(store, deciding)
        assert [r.trigger_id for r in await self.claim(store)] == [second.id]

    async def test_a_settled_decision_frees_the_customer(self) -> None:
        shop = unique("s")
        first, second = (cart_fired(shop, "c1", journey=j) for j in ("j-1", "j-2"))
        store = await self.fired_apart(first, second)
        (deciding,) = await self.claim(store, limit=1)
        assert await self.claim(store) == []
        await self.settle(store, Settle(deciding.trigger_id, "skipped", "expired"))
        assert [r.trigger_id for r in await self.claim(store)] == [second.id]

    async def test_concurrent_claims_never_share_a_row_or_a_customer(self) -> None:
        shop = unique("s")
        fired = [cart_fired(shop, f"c{n % 4}", journey=f"j-{n}") for n in range(12)]
        store = await self.fired_apart(*fired)
        batches = await asyncio.gather(*(self.claim(store, limit=3) for _ in range(4)))
        taken = [row for batch in batches for row in batch]
        assert len({r.trigger_id for r in taken}) == len(taken), "a row claimed twice"
        customers = [{r.customer_id for r in batch} for batch in batches]
        for n, mine in enumerate(customers):
            for theirs in customers[n + 1 :]:
                assert not mine & theirs, "two claims deciding on one customer"

    # --- release ---

    async def test_a_released_row_is_given_back_as_it_was(self) -> None:
        shop = unique("s")
        first, second = (cart_fired(shop, "c1", journey=j) for j in ("j-1", "j-2"))
        store = await self.fired_apart(first, second)
        taken = await self.claim(store, limit=1)
        async with store.transaction() as tx:
            await tx.log.release(taken)
        again = await self.claim(store)
        found = {(r.trigger_id, r.attempts, r.state) for r in again}
        assert found == {(first.id, 1, "queued"), (second.id, 1, "queued")}

    async def test_release_leaves_rows_the_round_recorded(self) -> None:
        store = await self.fired_apart(cart_fired(unique("s"), "c1"))
        (row,) = await self.claim(store)
        await self.sending(store, row)
        async with store.transaction() as tx:
            await tx.log.release([row])
        assert await self.claim(store) == [], "a row with a message id is being sent: leased"

    async def test_a_released_resumed_row_is_resumable_at_once(self) -> None:
        store = await self.fired_apart(cart_fired(unique("s"), "c1"))
        (row,) = await self.claim(store, lease_s=LEASE_S)
        await self.wait(LEASE_S * 1.5)
        resumed = await self.claim(store)
        async with store.transaction() as tx:
            await tx.log.release(resumed)
        await self.wait(0.01)
        (again,) = await self.claim(store)
        assert (again.trigger_id, again.state, again.attempts) == (row.trigger_id, "sending", 2)

    # --- settle ---

    async def test_settled_rows_are_done_and_refunds_give_the_attempt_back(self) -> None:
        shop = unique("s")
        sent, failed, retried = (cart_fired(shop, f"c{n}") for n in range(3))
        store = await self.fired_apart(sent, failed, retried)
        assert len(await self.claim(store)) == 3
        soon = self.now() + timedelta(minutes=5)
        await self.settle(
            store,
            Settle(sent.id, "sent", None, provider_id="p-1"),
            Settle(failed.id, "failed", "gave up"),
            Settle(retried.id, "retrying", "paused", soon, refund=True),
        )
        (again,) = await self.claim(store)
        assert (again.trigger_id, again.state, again.reason) == (retried.id, "retrying", "paused")
        assert again.attempts == 1
        await self.settle(store, Settle(again.trigger_id, "retrying", "timeout", soon))
        (third,) = await self.claim(store)
        assert third.attempts == 2, "a provider was asked: the attempt counts"
        async with store.transaction() as tx:
            assert await tx.log.waiting() == 0

    # --- history ---

    async def test_history_counts_sends_in_the_window_and_sends_in_progress(self) -> None:
        shop = unique("s")
        old, recent, transactional, in_progress, mine = (
            cart_fired(shop, "c1", journey=f"j-{n}", transactional=n == 2) for n in range(5)
        )
        store = await self.fired_apart(old, recent, transactional, in_progress, mine)
        rows = {r.trigger_id: r for r in await self.claim(store)}
        for done in (old, recent, transactional):
            await self.sending(store, rows[done.id])
        now = self.now()
        await self.settle(store, Settle(old.id, "sent", None), now=now - timedelta(days=40))
        await self.settle(store, Settle(recent.id, "sent", None), now=now - HOUR)
        await self.settle(store, Settle(transactional.id, "sent", None), now=now - HOUR)
        await self.sending(store, rows[in_progress.id], channel="sms")
        await self.sending(store, rows[mine.id], channel="sms")
        async with store.transaction() as tx:
            found = await tx.log.history(
                {(shop, "c1"), (shop, "c9")}, now, timedelta(days=30), [mine.id]
            )
        assert found[(shop, "c9")].marketing == {}
        history = found[(shop, "c1")]
        assert history.marketing == {Channel.EMAIL: [now - HOUR], Channel.SMS: [now]}
        assert set(history.last_by_journey) == {"j-1", "j-2", "j-3"}
        assert history.last_by_journey["j-3"].channel is Channel.SMS

    async def test_a_send_recorded_just_now_counts_whatever_its_campaign_time(self) -> None:
        shop = unique("s")
        store = await self.fired_apart(cart_fired(shop, "c1"))
        (row,) = await self.claim(store)
        await self.sending(store, row)
        ahead = self.now() + 2 * HOUR  # another sender's scaled clock ran ahead
        await self.settle(store, Settle(row.trigger_id, "sent", None), now=ahead)
        async with store.transaction() as tx:
            found = await tx.log.history({(shop, "c1")}, self.now(), timedelta(days=30))
        assert found[(shop, "c1")].marketing == {Channel.EMAIL: [ahead]}

    async def test_the_first_engagement_of_each_kind_counts(self) -> None:
        shop = unique("s")
        store = await self.fired_apart(cart_fired(shop, "c1"))
        (row,) = await self.claim(store)
        mark = await self.sending(store, row)
        sent_at = self.now() - HOUR
        await self.settle(store, Settle(row.trigger_id, "sent", None), now=sent_at)
        async with store.transaction() as tx:
            await tx.log.engaged("clicked", mark.message_id, self.now())
            await tx.log.engaged("clicked", mark.message_id, self.now() + HOUR)
            await tx.log.engaged("opened", "someone-else", self.now())
        async with store.transaction() as tx:
            found = await tx.log.history({(shop, "c1")}, self.now(), timedelta(days=30))
        previous = found[(shop, "c1")].last_by_journey["j-1"]
        assert (previous.sent_at, previous.opened, previous.clicked) == (sent_at, False, True)

    # --- SMS provider ids ---

    async def test_the_provider_ids_recorded_for_a_number(self) -> None:
        shop = unique("s")
        since = self.now()
        fired = [cart_fired(shop, f"c{n}") for n in range(4)]
        store = await self.fired_apart(*fired)
        rows = await self.claim(store)
        number, other = unique("+31"), unique("+32")
        for row, channel, address in zip(
            rows,
            ("sms", "sms", "email", "sms"),
            (number, number, number, other),
            strict=True,
        ):
            await self.sending(store, row, channel=channel, address=address)
        await self.settle(
            store,
            *(Settle(r.trigger_id, "sent", None, provider_id=f"p{n}") for n, r in enumerate(rows)),
        )
        async with store.transaction() as tx:
            assert await tx.log.sms_provider_ids(number, since) == {"p0", "p1"}
            assert await tx.log.sms_provider_ids(number, self.now() + HOUR) == set()

    # --- the unit of work ---

    async def test_a_transaction_that_raises_writes_nothing(self) -> None:
        store, shop = self.store(), unique("s")
        fired = cart_fired(shop, "c1")
        with pytest.raises(RuntimeError):
            async with store.transaction() as tx:
                await tx.log.enqueue([fired])
                await tx.outbox.keep([Outbound("t", b"k", b"v")])
                raise RuntimeError("the commit never happens")
        assert await self.enqueue(store, fired) == {fired.id}
        async with store.transaction() as tx:
            assert await tx.outbox.oldest(10) == []

    async def test_a_savepoint_undoes_only_its_own_writes(self) -> None:
        store, shop = self.store(), unique("s")
        kept, undone = cart_fired(shop, "c1"), cart_fired(shop, "c2")
        async with store.transaction() as tx:
            await tx.log.enqueue([kept])
            with pytest.raises(RuntimeError):
                async with tx.savepoint():
                    await tx.log.enqueue([undone])
                    raise RuntimeError("refused")
            assert await tx.log.still_queued([kept.id, undone.id]) == {kept.id}
        assert await self.enqueue(store, kept, undone) == {undone.id}

    # --- the outbox ---

    async def test_the_outbox_hands_records_back_oldest_first_until_removed(self) -> None:
        store = self.store()
        records = [Outbound("messages.status.v1", f"k{n}".encode(), b"v") for n in range(3)]
        async with store.transaction() as tx:
            await tx.outbox.keep(records[:2])
        async with store.transaction() as tx:
            await tx.outbox.keep(records[2:])
        async with store.transaction() as tx:
            first = await tx.outbox.oldest(2)
            assert [k.record for k in first] == records[:2]
            await tx.outbox.remove([first[0].id])
        async with store.transaction() as tx:
            assert [k.record for k in await tx.outbox.oldest(10)] == records[1:]
