"""Dispatch's state in memory: the same ports as PostgreSQL's (ports.py), for fast tests.

It keeps what the tables keep and merges as their statements do; the contract suites
(tests/support/message_log_contract.py, contact_store_contract.py) hold both adapters to the
same behaviour. Transactions run one at a time (a lock), which is what makes claims take turns
and `oldest` hold its records; one that raises is rolled back to a copy taken when it began.
The store's own time (leases, `created_at`, what "just now" means) is its clock's `now()`.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.dispatch.contacts import (
    ALL,
    CHANNELS,
    FIELDS,
    MARKETING,
    OPTED_OUT,
    WITHDRAWN,
    ContactFacts,
    _withdrawn,
)
from services.dispatch.message_log import JUST_NOW_S, WAITING, CustomerHistory, MessageRow
from services.dispatch.outbox import Outbound
from services.dispatch.policy import ChannelState, Contact, PreviousMessage
from services.dispatch.ports import CustomerKey, Kept, Sending, Settle
from services.dispatch.profiles import ProfileFacts, last_words
from shared.clock import Clock
from shared.events.shop import Channel
from shared.events.triggers import TriggerFired, TriggerFiredEvent


@dataclass
class StoredMessage:
    """A row of the log, as the `messages` table has it."""

    trigger_id: str
    shop_id: str
    customer_id: str
    journey_id: str
    transactional: bool
    trigger: TriggerFired
    created_at: datetime
    updated_at: datetime
    next_attempt_at: datetime | None
    state: str = "queued"
    attempts: int = 0
    channel: Channel | None = None
    message_id: str | None = None
    address: str | None = None
    sent_body: str | None = None
    reason: str | None = None
    lease_until: datetime | None = None
    provider_id: str | None = None
    sent_at: datetime | None = None
    opened_at: datetime | None = None
    clicked_at: datetime | None = None
    replied_at: datetime | None = None


@dataclass
class _Suppression:
    reason: str | None = None
    suppressed_at: datetime | None = None
    cleared_at: datetime | None = None


@dataclass
class _State:
    messages: dict[str, StoredMessage] = field(default_factory=dict)
    contacts: dict[CustomerKey, dict[str, Any]] = field(default_factory=dict)
    suppressions: dict[tuple[str, str, str], _Suppression] = field(default_factory=dict)
    categories: dict[tuple[str, str, str], tuple[bool, datetime]] = field(default_factory=dict)
    profiles: dict[CustomerKey, ProfileFacts] = field(default_factory=dict)
    outbox: dict[int, Outbound] = field(default_factory=dict)
    outbox_next: int = 1

    def copy(self) -> _State:
        return _State(
            messages={k: copy.copy(v) for k, v in self.messages.items()},
            contacts={k: dict(v) for k, v in self.contacts.items()},
            suppressions={k: copy.copy(v) for k, v in self.suppressions.items()},
            categories=dict(self.categories),
            profiles=dict(self.profiles),
            outbox=dict(self.outbox),
            outbox_next=self.outbox_next,
        )


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    """GREATEST: the later of two, ignoring a missing one."""
    if a is None or b is None:
        return a if b is None else b
    return max(a, b)


class MemoryMessageLog:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    @property
    def _rows(self) -> dict[str, StoredMessage]:
        return self._store.state.messages

    def _now(self) -> datetime:
        return self._store.clock.now()

    async def enqueue(self, fired: Sequence[TriggerFiredEvent]) -> set[str]:
        unique = {event.id: event for event in fired if event.customerid is not None}
        new = set()
        now = self._now()
        for event in unique.values():
            if event.id in self._rows or event.customerid is None:
                continue
            self._rows[event.id] = StoredMessage(
                trigger_id=event.id,
                shop_id=event.shopid,
                customer_id=event.customerid,
                journey_id=event.data.journey_id,
                transactional=event.data.transactional,
                trigger=event.data,
                created_at=now,
                updated_at=now,
                next_attempt_at=now,
            )
            new.add(event.id)
        return new

    async def still_queued(self, trigger_ids: Sequence[str]) -> set[str]:
        found = (self._rows.get(i) for i in trigger_ids)
        return {m.trigger_id for m in found if m and m.state == "queued" and m.attempts == 0}

    async def engaged(self, how: str, message_id: str, at: datetime) -> None:
        attribute = f"{how}_at"
        for row in self._rows.values():
            if row.message_id == message_id and getattr(row, attribute) is None:
                setattr(row, attribute, at)

    def _deciding(self, now: datetime) -> set[CustomerKey]:
        return {
            (m.shop_id, m.customer_id)
            for m in self._rows.values()
            if m.state == "sending"
            and m.message_id is None
            and m.lease_until is not None
            and m.lease_until > now
        }

    async def claim(self, limit: int, lease_s: float, now: datetime) -> list[MessageRow]:
        wall = self._now()
        busy = self._deciding(wall)
        free = [m for m in self._rows.values() if (m.shop_id, m.customer_id) not in busy]
        waiting = sorted(
            (
                (m.next_attempt_at, m)
                for m in free
                if m.state in WAITING and m.next_attempt_at is not None and m.next_attempt_at <= now
            ),
            key=lambda due: due[0],
        )[:limit]
        expired = sorted(
            (
                (m.lease_until, m)
                for m in free
                if m.state == "sending" and m.lease_until is not None and m.lease_until <= wall
            ),
            key=lambda due: due[0],
        )[:limit]
        due = sorted(waiting + expired, key=lambda due: due[0])[:limit]
        claimed = []
        for _, m in due:
            previous = m.state
            m.state, m.attempts = "sending", m.attempts + 1
            m.lease_until, m.updated_at = wall + timedelta(seconds=lease_s), wall
            claimed.append(
                MessageRow(
                    trigger_id=m.trigger_id,
                    shop_id=m.shop_id,
                    customer_id=m.customer_id,
                    journey_id=m.journey_id,
                    attempts=m.attempts,
                    trigger=m.trigger,
                    state=previous,
                    channel=m.channel,
                    message_id=m.message_id,
                    address=m.address,
                    created_at=m.created_at,
                    reason=m.reason,
                    sent_body=m.sent_body,
                    age_s=(wall - m.created_at).total_seconds(),
                )
            )
        return claimed

    async def release(self, rows: Sequence[MessageRow]) -> None:
        wall = self._now()
        for row in rows:
            m = self._rows.get(row.trigger_id)
            if m is None or m.state != "sending" or m.message_id is not None:
                continue
            m.state, m.attempts, m.updated_at = row.state, m.attempts - 1, wall
            m.lease_until = wall if row.state == "sending" else None

    async def keep_leases(self, trigger_ids: Sequence[str], lease_s: float) -> None:
        wall = self._now()
        for trigger_id in trigger_ids:
            m = self._rows.get(trigger_id)
            if m is not None and m.state == "sending":
                m.lease_until = wall + timedelta(seconds=lease_s)

    async def mark_sending(self, items: Sequence[Sending]) -> None:
        for item in items:
            m = self._rows.get(item.trigger_id)
            if m is not None:
                m.channel, m.message_id, m.address = item.channel, item.message_id, item.address
                m.sent_body, m.updated_at = item.sent_body, self._now()

    async def settle(self, items: Sequence[Settle], now: datetime) -> None:
        for item in items:
            m = self._rows.get(item.trigger_id)
            if m is None:
                continue
            m.state, m.reason, m.next_attempt_at = item.state, item.reason, item.next_attempt_at
            m.provider_id = item.provider_id or m.provider_id
            m.sent_at = now if item.state == "sent" else m.sent_at
            m.attempts -= 1 if item.refund else 0
            m.lease_until, m.updated_at = None, self._now()

    async def history(
        self,
        keys: set[CustomerKey],
        now: datetime,
        window: timedelta,
        deciding: Sequence[str] = (),
    ) -> dict[CustomerKey, CustomerHistory]:
        found = {key: CustomerHistory({}, {}) for key in keys}
        wall, since = self._now(), now - window
        just_now = wall - timedelta(seconds=JUST_NOW_S)
        counted: list[tuple[datetime, StoredMessage]] = []
        for m in self._rows.values():
            if (m.shop_id, m.customer_id) not in found or m.channel is None:
                continue
            if m.state == "sent" and m.sent_at is not None:
                if m.sent_at > since and (m.sent_at <= now or m.updated_at > just_now):
                    counted.append((m.sent_at, m))
            elif (
                m.state == "sending"
                and m.message_id is not None
                and m.lease_until is not None
                and m.lease_until > wall
                and m.trigger_id not in deciding
            ):
                counted.append((now, m))
        for at, m in sorted(counted, key=lambda sent: sent[0]):
            item = found[(m.shop_id, m.customer_id)]
            if not m.transactional:
                item.marketing.setdefault(m.channel, []).append(at)  # type: ignore[arg-type]
            item.last_by_journey[m.journey_id] = PreviousMessage(
                m.channel,  # type: ignore[arg-type]
                at,
                m.opened_at is not None,
                m.clicked_at is not None,
                m.replied_at is not None,
            )
        return found

    async def sms_provider_ids(self, address: str, since: datetime) -> set[str]:
        return {
            m.provider_id
            for m in self._rows.values()
            if m.channel is Channel.SMS
            and m.address == address
            and m.provider_id is not None
            and m.updated_at >= since
        }

    async def waiting(self) -> int:
        return sum(1 for m in self._rows.values() if m.state in WAITING)


def _blank_contact() -> dict[str, Any]:
    blank: dict[str, Any] = dict.fromkeys(FIELDS)
    for channel in CHANNELS:
        for part in ("consent", "consent_at", "consent_source", "undeliverable"):
            blank[f"{channel}_{part}"] = None
    return blank


_ADDRESS_FIELD = {"email": "email", "sms": "phone"}


class MemoryContactStore:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def record(self, facts: Sequence[ContactFacts]) -> None:
        state = self._store.state
        for item in facts:
            self._upsert(item)
            for fact in item.addresses:
                if fact.scope is not None:
                    held = state.suppressions.setdefault(
                        (item.shop_id, fact.address, fact.scope), _Suppression()
                    )
                    if held.suppressed_at is None or fact.at >= held.suppressed_at:
                        held.reason = fact.reason
                    held.suppressed_at = _later(held.suppressed_at, fact.at)
                    continue
                for scope in (ALL, MARKETING):
                    held = state.suppressions.setdefault(
                        (item.shop_id, fact.address, scope), _Suppression()
                    )
                    held.cleared_at = _later(held.cleared_at, fact.at)
                for (shop, _), contact in state.contacts.items():
                    email = contact["email"]
                    if shop == item.shop_id and email is not None and email.lower() == fact.address:
                        contact["email_undeliverable"] = None
            for category, stated in item.categories.items():
                key = (item.shop_id, item.customer_id, category)
                held_category = state.categories.get(key)
                if held_category is None or stated.at >= held_category[1]:
                    state.categories[key] = (stated.granted, stated.at)
                else:
                    state.categories[key] = (held_category[0], max(held_category[1], stated.at))

    def _upsert(self, facts: ContactFacts) -> None:
        """The contact upsert of stores/postgres.py, field by field."""
        new = _blank_contact()
        for name in FIELDS:
            new[name] = facts.fields.get(name)
        for channel in CHANNELS:
            fact = facts.consent.get(channel)
            if fact is not None:
                new[f"{channel}_consent"] = fact.granted
                new[f"{channel}_consent_at"] = fact.at
                new[f"{channel}_consent_source"] = fact.stored_source
            new[f"{channel}_undeliverable"] = facts.undeliverable.get(channel)
        contacts = self._store.state.contacts
        key = (facts.shop_id, facts.customer_id)
        old = contacts.get(key)
        if old is None:
            contacts[key] = new
            return
        merged = dict(old)
        for channel in CHANNELS:
            address = _ADDRESS_FIELD[channel]
            new_at, old_at = new[f"{channel}_consent_at"], old[f"{channel}_consent_at"]
            undeliverable = old[f"{channel}_undeliverable"]
            if new[f"{channel}_undeliverable"] is not None:
                undeliverable = new[f"{channel}_undeliverable"]
            elif (new[address] is not None and new[address] != old[address]) or (
                new[f"{channel}_consent"]
                and new_at is not None
                and old_at is not None
                and new_at > old_at
                and undeliverable is not None
                and OPTED_OUT in undeliverable
            ):
                undeliverable = None
            merged[f"{channel}_undeliverable"] = undeliverable
            newer = new_at is not None and (old_at is None or new_at >= old_at)
            if newer:
                merged[f"{channel}_consent"] = new[f"{channel}_consent"]
                merged[f"{channel}_consent_source"] = new[f"{channel}_consent_source"]
            merged[f"{channel}_consent_at"] = _later(new_at, old_at)
        for name in FIELDS:
            if new[name] is not None:
                merged[name] = new[name]
        contacts[key] = merged

    async def record_profiles(self, facts: Sequence[ProfileFacts]) -> None:
        held = self._store.state.profiles
        for item in last_words(facts):
            key = (item.shop_id, item.customer_id)
            if item.as_of is None:
                held.pop(key, None)
                continue
            before = held.get(key)
            if before is None or before.as_of is None or item.as_of >= before.as_of:
                held[key] = item

    async def load(self, keys: set[CustomerKey]) -> dict[CustomerKey, Contact]:
        state = self._store.state
        found: dict[CustomerKey, Contact] = {}
        for key in keys:
            row = state.contacts.get(key)
            if row is None:
                continue
            shop, email = key[0], row["email"]
            suppressed: dict[str, str | None] = {ALL: None, MARKETING: None}
            for scope in suppressed:
                held = state.suppressions.get((shop, email.lower(), scope)) if email else None
                if (
                    held is not None
                    and held.suppressed_at is not None
                    and (held.cleared_at is None or held.suppressed_at > held.cleared_at)
                ):
                    suppressed[scope] = held.reason
            profile = state.profiles.get(key)
            dropped = frozenset(
                category
                for (s, c, category), (subscribed, _) in state.categories.items()
                if (s, c) == key and not subscribed
            )
            found[key] = Contact(
                email=ChannelState(
                    email,
                    row["email_consent"],
                    withdrawn=_withdrawn(row, "email"),
                    undeliverable=row["email_undeliverable"] or suppressed[ALL],
                    marketing_suppressed=suppressed[MARKETING],
                ),
                sms=ChannelState(
                    row["phone"],
                    row["sms_consent"],
                    row["sms_undeliverable"],
                    withdrawn=_withdrawn(row, "sms"),
                ),
                preferred_channel=profile.preferred_channel if profile else None,
                monetary_score=profile.monetary_score if profile else None,
                time_zone=row["time_zone"],
                locale=row["locale"],
                first_name=row["first_name"],
                last_name=row["last_name"],
                dropped_categories=dropped,
            )
        return found

    async def refused(self, key: CustomerKey, channel: Channel, reason: str, at: datetime) -> None:
        row = self._store.state.contacts.get(key)
        if row is None:
            return
        name = channel.value
        if OPTED_OUT in reason:
            row[f"{name}_consent"] = False
            row[f"{name}_consent_at"] = at
            row[f"{name}_consent_source"] = WITHDRAWN + "provider"
        row[f"{name}_undeliverable"] = reason[:300]


class MemoryOutbox:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store

    async def keep(self, records: Sequence[Outbound]) -> None:
        state = self._store.state
        for record in records:
            state.outbox[state.outbox_next] = record
            state.outbox_next += 1

    async def oldest(self, limit: int) -> list[Kept]:
        kept = sorted(self._store.state.outbox.items())[:limit]
        return [Kept(number, record) for number, record in kept]

    async def remove(self, ids: Sequence[int]) -> None:
        for number in ids:
            self._store.state.outbox.pop(number, None)


class MemoryTransaction:
    def __init__(self, store: MemoryStore) -> None:
        self._store = store
        self.log = MemoryMessageLog(store)
        self.contacts = MemoryContactStore(store)
        self.outbox = MemoryOutbox(store)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        before = self._store.state.copy()
        try:
            yield
        except BaseException:
            self._store.state = before
            raise


class MemoryStore:
    """Dispatch's state in this process, on `clock`'s time."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.state = _State()
        self._turn = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[MemoryTransaction]:
        async with self._turn:
            before = self.state.copy()
            try:
                yield MemoryTransaction(self)
            except BaseException:
                self.state = before
                raise

    # --- For tests: what the tables hold ---

    def message(self, trigger_id: str) -> StoredMessage:
        """A copy of the log's row for `trigger_id` (KeyError when there is none)."""
        return dataclasses.replace(self.state.messages[trigger_id])

    def messages(self) -> list[StoredMessage]:
        return [dataclasses.replace(m) for m in self.state.messages.values()]

    def kept(self) -> list[Outbound]:
        """The records in the outbox, oldest first."""
        return [record for _, record in sorted(self.state.outbox.items())]
