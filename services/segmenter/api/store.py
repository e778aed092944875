"""The projection the read API serves: each customer's latest profile and segment memberships.

Why a projection in PostgreSQL, and not the segmenter's Faust tables behind key routing: a
segment's size and a page of its members span every partition, so they would be a
scatter-gather over all workers on every request; a projection answers them with one indexed
query, and keeps the workers free of HTTP load and of the shops' API keys.

The port, with two adapters that pass one contract suite
(tests/support/profile_projection_contract.py): in memory (unit tests) and PostgreSQL
(postgres.py, the service). Its rules:

- `apply` upserts a profile and replaces its memberships; a record whose envelope `time` is
  older than the one held is ignored (equal: taken, the later record on the partition wins),
  so replays, duplicates and out-of-order delivery converge on the latest profile.
- `remove` forgets a profile (a tombstone on the compacted topic).
- Every read names the shop: one shop never sees another's customers or segments.
- Anonymous visitors' profiles (`shop:anon:<visitor>`) are kept, but they are not customers:
  no read of the API returns them, and segment sizes count customers only.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from shared.events.profiles import CustomerProfile, CustomerProfileEvent, MemberOf

_SHOP_ID: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")


@dataclass(frozen=True, slots=True, order=True)
class Person:
    """Whose profile: a shop's customer, or (`anonymous`) a visitor not identified yet."""

    shop_id: str
    anonymous: bool
    person_id: str

    @classmethod
    def of(cls, event: CustomerProfileEvent) -> Person:
        if event.customerid is not None:
            return cls(event.shopid, False, event.customerid)
        assert event.anonymousid is not None  # the envelope requires one of the two
        return cls(event.shopid, True, event.anonymousid)

    @classmethod
    def from_key(cls, key: str) -> Person:
        """From a record key (`shop:customer` or `shop:anon:visitor`); ValueError otherwise."""
        shop_id, colon, rest = key.partition(":")
        if not colon or not _SHOP_ID.fullmatch(shop_id):
            raise ValueError(f"not a customer key: {key[:100]!r}")
        anonymous = rest.startswith("anon:")
        person_id = rest.removeprefix("anon:") if anonymous else rest
        if not person_id or len(person_id) > 255:
            raise ValueError(f"not a customer key: {key[:100]!r}")
        return cls(shop_id, anonymous, person_id)


@dataclass(frozen=True, slots=True)
class StoredProfile:
    customer_id: str
    as_of: datetime
    """The envelope time of the record it comes from."""
    event_id: str
    profile: CustomerProfile


@dataclass(frozen=True, slots=True)
class SegmentSize:
    segment_id: str
    size: int


@dataclass(frozen=True, slots=True)
class Member:
    customer_id: str
    since: datetime
    rule_version: int


class ProfileProjection(Protocol):
    async def apply(self, *events: CustomerProfileEvent) -> None:
        """Upsert each profile and replace its memberships, unless the one held is newer
        (envelope time); of several events of one person, the latest counts."""
        ...

    async def remove(self, *people: Person) -> None:
        """Forget these profiles and their memberships (absent ones: nothing happens)."""
        ...

    async def profile(self, shop_id: str, customer_id: str) -> StoredProfile | None:
        """The customer's profile, or None (anonymous visitors are never returned)."""
        ...

    async def segments(self, shop_id: str) -> list[SegmentSize]:
        """The shop's segments with at least one customer, by segment id."""
        ...

    async def size(self, shop_id: str, segment_id: str) -> int:
        """How many customers of the shop are in the segment (0 for one no one is in)."""
        ...

    async def members(
        self, shop_id: str, segment_id: str, after: str | None, limit: int
    ) -> list[Member]:
        """Up to `limit` customers of the segment, by customer id, after `after` if given."""
        ...


def latest(events: Iterable[CustomerProfileEvent]) -> dict[Person, CustomerProfileEvent]:
    """The event that counts per person: the latest by time; on a tie, the later given."""
    found: dict[Person, CustomerProfileEvent] = {}
    for event in events:
        person = Person.of(event)
        held = found.get(person)
        if held is None or event.time >= held.time:
            found[person] = event
    return found


def memberships(profile: CustomerProfile) -> dict[str, MemberOf]:
    """The profile's memberships by segment id (a segment listed twice: the last counts)."""
    return {member.segment_id: member for member in profile.segments}


class MemoryProjection:
    """The projection in memory: for unit tests and the app built without a database."""

    def __init__(self) -> None:
        self._profiles: dict[Person, CustomerProfileEvent] = {}

    async def apply(self, *events: CustomerProfileEvent) -> None:
        for person, event in latest(events).items():
            held = self._profiles.get(person)
            if held is None or event.time >= held.time:
                self._profiles[person] = event

    async def remove(self, *people: Person) -> None:
        for person in people:
            self._profiles.pop(person, None)

    async def profile(self, shop_id: str, customer_id: str) -> StoredProfile | None:
        event = self._profiles.get(Person(shop_id, False, customer_id))
        if event is None:
            return None
        return StoredProfile(customer_id, event.time, event.id, event.data)

    def _customers(self, shop_id: str) -> Sequence[tuple[str, CustomerProfile]]:
        return [
            (person.person_id, event.data)
            for person, event in self._profiles.items()
            if person.shop_id == shop_id and not person.anonymous
        ]

    async def segments(self, shop_id: str) -> list[SegmentSize]:
        sizes: Counter[str] = Counter()
        for _, profile in self._customers(shop_id):
            sizes.update(memberships(profile).keys())
        return [SegmentSize(segment, sizes[segment]) for segment in sorted(sizes)]

    async def size(self, shop_id: str, segment_id: str) -> int:
        return sum(segment_id in memberships(profile) for _, profile in self._customers(shop_id))

    async def members(
        self, shop_id: str, segment_id: str, after: str | None, limit: int
    ) -> list[Member]:
        found = []
        for customer_id, profile in self._customers(shop_id):
            member = memberships(profile).get(segment_id)
            if member is not None and (after is None or customer_id > after):
                found.append(Member(customer_id, member.since, member.rule_version))
        found.sort(key=lambda m: m.customer_id)
        return found[:limit]
