"""The projection's consumer over polls of real record bytes, with the in-memory projection: the
last word per person in a poll, tombstones, bad and mis-keyed records parked on
`customer.profiles.dlq.v1` with the reason while their neighbours are stored, a profile the
database refuses parked alone, and an outage raising so the poll is read again."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import orjson
import pytest
from aiokafka import ConsumerRecord

from services.segmenter.api.consumer import Projector
from services.segmenter.api.store import MemoryProjection, Person
from shared.events.profiles import CustomerProfileEvent
from shared.polls import Record
from shared.topics import CUSTOMER_PROFILES
from tests.support.profile_events import NOON, profile_bytes, profile_event

SHOP = "acme"
LATER = NOON + timedelta(hours=1)
DLQ = "customer.profiles.dlq.v1"


class Parking:
    """Keeps the dead letters (acknowledged at once)."""

    def __init__(self) -> None:
        self.parked: list[tuple[str, bytes | None, dict[str, Any]]] = []

    def delivery(self, topic: str, value: bytes, key: str | bytes | None) -> Awaitable[None]:
        assert not isinstance(key, str)
        self.parked.append((topic, key, orjson.loads(value)))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def reasons(self) -> list[str]:
        return [letter["reason"] for _, _, letter in self.parked]


class Harness:
    def __init__(self, store: MemoryProjection | None = None) -> None:
        self.store = store or MemoryProjection()
        self.parking = Parking()
        self.projector = Projector(None, self.parking, self.store)
        self._offset = 0

    def record(self, key: bytes | None, value: bytes | None) -> Record:
        self._offset += 1
        size = len(value or b"")
        return ConsumerRecord(
            CUSTOMER_PROFILES.name, 0, self._offset, 0, 0, key, value, None, 0, size, ()
        )

    def of(self, event: CustomerProfileEvent) -> Record:
        return self.record(event.key.encode(), profile_bytes(event))

    async def poll(self, *records: Record) -> None:
        await self.projector.handle(records)


async def test_each_profile_of_the_poll_is_stored() -> None:
    h = Harness()
    first = profile_event(SHOP, "c-1", segments=["vip"])
    second = profile_event(SHOP, "c-2", segments=["vip", "lapsed"])
    await h.poll(h.of(first), h.of(second))
    found = await h.store.profile(SHOP, "c-2")
    assert found is not None and found.profile == second.data
    assert await h.store.size(SHOP, "vip") == 2
    assert h.parking.parked == []


async def test_in_one_poll_a_later_profile_wins_and_an_older_one_after_it_does_not() -> None:
    h = Harness()
    older = profile_event(SHOP, "c-1", at=NOON, segments=["first_time_buyers"])
    newer = profile_event(SHOP, "c-1", at=LATER, segments=["repeat_buyers"], orders=2)
    await h.poll(h.of(newer), h.of(older))
    found = await h.store.profile(SHOP, "c-1")
    assert found is not None and found.event_id == newer.id
    await h.poll(h.of(older))  # read again later: still ignored
    found = await h.store.profile(SHOP, "c-1")
    assert found is not None and found.event_id == newer.id


async def test_a_tombstone_forgets_the_profile_and_a_profile_after_it_comes_back() -> None:
    h = Harness()
    event = profile_event(SHOP, "c-1", segments=["vip"])
    visitor = profile_event(SHOP, anonymous="v-1", segments=["vip"], orders=0)
    await h.poll(h.of(event), h.of(visitor))
    await h.poll(h.record(b"acme:c-1", None), h.record(b"acme:anon:v-1", None))
    assert await h.store.profile(SHOP, "c-1") is None
    assert await h.store.size(SHOP, "vip") == 0
    again = profile_event(SHOP, "c-1", at=NOON - timedelta(days=1), segments=["vip"])
    await h.poll(h.record(b"acme:c-1", None), h.of(again))  # in partition order
    assert await h.store.profile(SHOP, "c-1") is not None
    await h.poll(h.of(again), h.record(b"acme:c-1", None))
    assert await h.store.profile(SHOP, "c-1") is None
    assert h.parking.parked == []


async def test_records_that_cannot_be_read_are_parked_and_their_neighbours_stored() -> None:
    h = Harness()
    good = profile_event(SHOP, "c-1", segments=["vip"])
    elsewhere = profile_event(SHOP, "c-2")
    broken = [
        h.record(b"acme:c-3", b"{not json"),
        h.record(b"acme:c-4", b'{"type": "customer.profile", "shopid": "acme"}'),
        h.record(b"acme:c-9", profile_bytes(elsewhere)),  # keyed as another customer
        h.record(None, profile_bytes(elsewhere)),
        h.record(None, None),
        h.record(b"Not A Shop:c-1", None),
        h.record(b"\xff\xfe", None),
    ]
    await h.poll(broken[0], h.of(good), *broken[1:])
    assert await h.store.profile(SHOP, "c-1") is not None
    assert await h.store.profile(SHOP, "c-2") is None
    assert [topic for topic, _, _ in h.parking.parked] == [DLQ] * len(broken)
    assert all(r.startswith("invalid record: ") for r in h.parking.reasons())
    assert "is not the envelope's 'acme:c-2'" in h.parking.reasons()[2]
    letter = h.parking.parked[0][2]
    assert (letter["service"], letter["source_topic"], letter["key"]) == (
        "segmenter-api",
        CUSTOMER_PROFILES.name,
        "acme:c-3",
    )
    assert letter["payload"] == "{not json"


class RefusingProjection(MemoryProjection):
    """PostgreSQL's refusal of one profile (a NUL in a text), an outage for the others."""

    def __init__(self, outage: bool = False) -> None:
        super().__init__()
        self.outage = outage

    async def apply(self, *events: CustomerProfileEvent) -> None:
        if self.outage:
            raise asyncpg.CannotConnectNowError("the database system is starting up")
        if any(e.customerid == "c-refused" for e in events):
            raise asyncpg.UntranslatableCharacterError("unsupported Unicode escape sequence")
        await super().apply(*events)


async def test_a_profile_the_database_refuses_is_parked_alone() -> None:
    h = Harness(RefusingProjection())
    refused = profile_event(SHOP, "c-refused", segments=["vip"])
    kept = profile_event(SHOP, "c-1", segments=["vip"])
    await h.poll(h.of(kept), h.of(refused))
    assert await h.store.size(SHOP, "vip") == 1
    assert [key for _, key, _ in h.parking.parked] == [b"acme:c-refused"]
    [reason] = h.parking.reasons()
    assert reason.startswith("cannot be stored: ") and "22P05" in reason


async def test_an_outage_raises_so_the_poll_is_read_again_and_nothing_is_parked() -> None:
    h = Harness(RefusingProjection(outage=True))
    with pytest.raises(asyncpg.CannotConnectNowError):
        await h.poll(h.of(profile_event(SHOP, "c-1")))
    assert h.parking.parked == []


async def test_a_tombstone_removes_only_its_own_person() -> None:
    h = Harness()
    await h.poll(
        h.of(profile_event(SHOP, "c-1", segments=["vip"])),
        h.of(profile_event("globex", "c-1", segments=["vip"])),
    )
    await h.poll(h.record(b"acme:anon:c-1", None), h.record(b"globex:c-1", None))
    assert await h.store.profile(SHOP, "c-1") is not None
    assert await h.store.profile("globex", "c-1") is None
    assert Person.from_key("acme:anon:c-1") == Person(SHOP, True, "c-1")
