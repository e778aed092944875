"""The ports in front of dispatch's state: what the intake, the sender and the relay ask of it.

Everything goes through a unit of work, `Store.transaction()`, which hands out the message log,
the contact store and the outbox bound to one transaction: what is written together (a batch's
outcomes, their unacknowledged status records and the contact marks of refused addresses; an
intake poll's contacts and triggers) is committed together or not at all. Two adapters
implement it: PostgreSQL (stores/postgres.py), the one dispatch runs on, and memory
(stores/memory.py), for fast tests. One contract suite (tests/support/message_log_contract.py,
contact_store_contract.py) specifies both, claims and leases included.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from services.dispatch.contacts import ContactFacts
from services.dispatch.message_log import CustomerHistory, MessageRow
from services.dispatch.outbox import Outbound
from services.dispatch.policy import Contact
from services.dispatch.profiles import ProfileFacts
from shared.events.shop import Channel
from shared.events.triggers import TriggerFiredEvent

CustomerKey = tuple[str, str]
"""(shop id, customer id)."""


@dataclass(frozen=True, slots=True)
class Sending:
    """A send decided: recorded before the provider is called."""

    trigger_id: str
    channel: Channel
    message_id: str
    address: str
    sent_body: str | None = None
    """The exact SMS body of this attempt (None for email): what a resumed SMS is looked up
    by at the provider, and sent again as it was when it was not found there."""


@dataclass(frozen=True, slots=True)
class Settle:
    """A row's outcome: sent, retrying / deferred (with the next attempt), skipped, failed,
    queued again (a refusal about the address: decided again at once)."""

    trigger_id: str
    state: str
    reason: str | None
    next_attempt_at: datetime | None = None
    provider_id: str | None = None
    refund: bool = False
    """Give the claim's attempt back: no provider was asked (a deferral, a paused provider)."""


@dataclass(frozen=True, slots=True)
class Kept:
    """A record kept in the outbox, with its place in line."""

    id: int
    record: Outbound


class MessageLog(Protocol):
    """The message log (message_log.py: one row per trigger, its state machine)."""

    async def enqueue(self, fired: Sequence[TriggerFiredEvent]) -> set[str]:
        """Record new triggers as queued, due now; return the ids that were new (a trigger id
        already in the log, or twice in `fired`, is enqueued once; one without a customer is
        not enqueued)."""
        ...

    async def still_queued(self, trigger_ids: Sequence[str]) -> set[str]:
        """Which of these triggers no sender has taken yet (queued, no attempt)."""
        ...

    async def engaged(self, how: str, message_id: str, at: datetime) -> None:
        """An open, click or reply (`how`) on a message; the first one of each kind counts."""
        ...

    async def claim(self, limit: int, lease_s: float, now: datetime) -> list[MessageRow]:
        """Take up to `limit` rows for this sender, oldest due first, leased for `lease_s`:
        rows waiting and due by `now` (campaign time), and `sending` rows whose lease ran out
        (their sender died: `state` says `sending`). The attempt is counted. No row of a
        customer another claim is still deciding on (claimed, no message id recorded, lease
        not run out) is taken; one claim may take several rows of one customer. Call it in a
        transaction of its own: claims take turns."""
        ...

    async def release(self, rows: Sequence[MessageRow]) -> None:
        """Give claimed rows back as they were, the attempt not counted; rows the round did
        record (a message id, or a settled state) are left alone."""
        ...

    async def mark_sending(self, items: Sequence[Sending]) -> None:
        """Record the chosen channel, message id, address (and SMS body) before any call."""
        ...

    async def keep_leases(self, trigger_ids: Sequence[str], lease_s: float) -> None:
        """Lease these `sending` rows for `lease_s` more from now: their sender is alive and
        still waiting for the provider, so no other claim may take them over (a round slower
        than the lease would otherwise be sent twice). Rows settled meanwhile are left alone."""
        ...

    async def settle(self, items: Sequence[Settle], now: datetime) -> None:
        """Record outcomes (sent at `now`); each ends the row's lease."""
        ...

    async def history(
        self,
        keys: set[CustomerKey],
        now: datetime,
        window: timedelta,
        deciding: Sequence[str] = (),
    ) -> dict[CustomerKey, CustomerHistory]:
        """The customers' sends in `window` before `now`, and the sends in progress (counted
        as of `now`), except the rows `deciding`; a send recorded after `now` counts only if it
        was recorded within the last minute of the store's time."""
        ...

    async def sms_provider_ids(self, address: str, since: datetime) -> set[str]:
        """The provider ids recorded for SMS rows to `address` settled at or after `since`
        (the store's time, like `created_at`): provider messages already matched to a row."""
        ...

    async def waiting(self) -> int:
        """How many rows are queued, deferred or retrying."""
        ...


class ContactStore(Protocol):
    """The contacts (contacts.py), their address suppressions, dropped categories and
    profile facts (profiles.py)."""

    async def record(self, facts: Sequence[ContactFacts]) -> None:
        """Merge the facts, in order (contacts.py says how each one merges)."""
        ...

    async def record_profiles(self, facts: Sequence[ProfileFacts]) -> None:
        """Keep the last word per customer (profiles.py): newer profiles, tombstones."""
        ...

    async def load(self, keys: set[CustomerKey]) -> dict[CustomerKey, Contact]:
        """The known contacts among `keys`, with their suppressions, dropped categories and
        profile; an unknown customer is absent (a profile alone does not make one known)."""
        ...

    async def refused(self, key: CustomerKey, channel: Channel, reason: str, at: datetime) -> None:
        """A provider refused the address for good: it is unusable until the customer gives
        another one; a refusal for an opt-out (`OPTED_OUT` in `reason`) also withdraws the
        channel's consent as of `at`."""
        ...


class Outbox(Protocol):
    """Records the broker did not acknowledge in time (outbox.py)."""

    async def keep(self, records: Sequence[Outbound]) -> None: ...

    async def oldest(self, limit: int) -> list[Kept]:
        """Up to `limit` kept records, oldest first, held by this transaction (another
        transaction's `oldest` passes over them)."""
        ...

    async def remove(self, ids: Sequence[int]) -> None: ...


class Transaction(Protocol):
    """One unit of work: committed when its block ends, rolled back when it raises."""

    @property
    def log(self) -> MessageLog: ...

    @property
    def contacts(self) -> ContactStore: ...

    @property
    def outbox(self) -> Outbox: ...

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """A nested unit: what it wrote is undone when its block raises, the rest kept."""
        ...


class Store(Protocol):
    """Dispatch's state."""

    def transaction(self) -> AbstractAsyncContextManager[Transaction]: ...
