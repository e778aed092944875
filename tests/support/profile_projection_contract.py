"""The read API's projection, written once: the in-memory adapter runs it in the unit tests,
PostgreSQL's in the integration tests (one-line factories, as the report store's)."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from datetime import timedelta

from services.segmenter.api.store import Member, Person, ProfileProjection, SegmentSize
from tests.support.profile_events import NOON, profile_event

LATER = NOON + timedelta(hours=1)


def unique(prefix: str = "shop") -> str:
    """Shop ids unique per test: the PostgreSQL adapter shares its tables between tests."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def sizes(found: list[SegmentSize]) -> dict[str, int]:
    return {s.segment_id: s.size for s in found}


def ids(found: list[Member]) -> list[str]:
    return [m.customer_id for m in found]


class ProfileProjectionContract(ABC):
    @abstractmethod
    def store(self) -> ProfileProjection: ...

    async def test_a_profile_applied_is_read_back_with_its_segments(self) -> None:
        store, shop = self.store(), unique()
        event = profile_event(shop, "c-1", segments=["vip", "repeat_buyers"], orders=3)
        await store.apply(event)
        found = await store.profile(shop, "c-1")
        assert found is not None
        assert (found.customer_id, found.as_of, found.event_id) == ("c-1", NOON, event.id)
        assert found.profile == event.data
        assert [m.segment_id for m in found.profile.segments] == ["vip", "repeat_buyers"]
        assert sizes(await store.segments(shop)) == {"repeat_buyers": 1, "vip": 1}
        assert await store.profile(shop, "c-2") is None

    async def test_a_replay_changes_nothing(self) -> None:
        store, shop = self.store(), unique()
        event = profile_event(shop, "c-1", segments=["vip"])
        await store.apply(event)
        await store.apply(event, event)
        await store.apply(event)
        assert sizes(await store.segments(shop)) == {"vip": 1}
        assert ids(await store.members(shop, "vip", None, 10)) == ["c-1"]

    async def test_a_newer_profile_replaces_the_memberships_and_moves_the_sizes(self) -> None:
        store, shop = self.store(), unique()
        await store.apply(profile_event(shop, "c-1", segments=["vip", "first_time_buyers"]))
        await store.apply(profile_event(shop, "c-2", segments=["vip"]))
        newer = profile_event(shop, "c-1", at=LATER, segments=["lapsed", "vip"], orders=2)
        await store.apply(newer)
        found = await store.profile(shop, "c-1")
        assert found is not None and found.profile == newer.data and found.as_of == LATER
        assert sizes(await store.segments(shop)) == {"lapsed": 1, "vip": 2}
        assert await store.size(shop, "first_time_buyers") == 0
        assert ids(await store.members(shop, "first_time_buyers", None, 10)) == []
        assert ids(await store.members(shop, "lapsed", None, 10)) == ["c-1"]

    async def test_an_older_profile_arriving_late_is_ignored(self) -> None:
        store, shop = self.store(), unique()
        newer = profile_event(shop, "c-1", at=LATER, segments=["lapsed"], orders=2)
        older = profile_event(shop, "c-1", at=NOON, segments=["vip"])
        await store.apply(newer)
        await store.apply(older)
        found = await store.profile(shop, "c-1")
        assert found is not None and found.event_id == newer.id
        assert sizes(await store.segments(shop)) == {"lapsed": 1}
        assert await store.size(shop, "vip") == 0

    async def test_of_several_profiles_at_once_the_latest_counts_whatever_their_order(
        self,
    ) -> None:
        store, shop = self.store(), unique()
        newer = profile_event(shop, "c-1", at=LATER, segments=["repeat_buyers"], orders=2)
        older = profile_event(shop, "c-1", at=NOON, segments=["first_time_buyers"])
        other = profile_event(shop, "c-2", segments=["first_time_buyers"])
        await store.apply(newer, other, older)
        found = await store.profile(shop, "c-1")
        assert found is not None and found.event_id == newer.id
        assert sizes(await store.segments(shop)) == {"first_time_buyers": 1, "repeat_buyers": 1}

    async def test_at_the_same_time_the_later_record_is_taken(self) -> None:
        store, shop = self.store(), unique()
        first = profile_event(shop, "c-1", segments=["vip"])
        second = profile_event(shop, "c-1", segments=["lapsed"])
        await store.apply(first)
        await store.apply(second)
        found = await store.profile(shop, "c-1")
        assert found is not None and found.event_id == second.id
        assert sizes(await store.segments(shop)) == {"lapsed": 1}

    async def test_a_segment_listed_twice_counts_once(self) -> None:
        store, shop = self.store(), unique()
        await store.apply(profile_event(shop, "c-1", segments=["vip", "vip"]))
        assert sizes(await store.segments(shop)) == {"vip": 1}
        assert ids(await store.members(shop, "vip", None, 10)) == ["c-1"]

    async def test_shops_never_see_each_others_customers_or_segments(self) -> None:
        store, shop, other = self.store(), unique(), unique()
        mine = profile_event(shop, "c-1", segments=["vip"])
        theirs = profile_event(other, "c-1", segments=["lapsed"], orders=5)
        await store.apply(mine, theirs)
        await store.apply(profile_event(other, "c-2", segments=["vip"]))
        found = await store.profile(shop, "c-1")
        assert found is not None and found.profile == mine.data
        assert sizes(await store.segments(shop)) == {"vip": 1}
        assert sizes(await store.segments(other)) == {"lapsed": 1, "vip": 1}
        assert ids(await store.members(shop, "vip", None, 10)) == ["c-1"]
        assert ids(await store.members(other, "vip", None, 10)) == ["c-2"]
        assert await store.size(shop, "lapsed") == 0
        assert await store.profile(unique(), "c-1") is None

    async def test_anonymous_visitors_are_kept_but_never_read_as_customers(self) -> None:
        store, shop = self.store(), unique()
        visitor = profile_event(shop, anonymous="c-1", segments=["vip"], orders=0)
        await store.apply(visitor)
        assert await store.profile(shop, "c-1") is None
        assert await store.segments(shop) == []
        assert ids(await store.members(shop, "vip", None, 10)) == []
        customer = profile_event(shop, "c-1", segments=["vip"])
        await store.apply(customer)
        found = await store.profile(shop, "c-1")
        assert found is not None and found.event_id == customer.id
        assert sizes(await store.segments(shop)) == {"vip": 1}
        await store.remove(Person(shop, True, "c-1"))  # the visitor, not the customer
        assert await store.profile(shop, "c-1") is not None
        assert sizes(await store.segments(shop)) == {"vip": 1}

    async def test_members_come_in_pages_by_customer_id_in_code_point_order(self) -> None:
        store, shop = self.store(), unique()
        customers = ["b", "a", "B", "é", "10", "9", "a-1", "a_1", "a.1", "zz", "Z"]
        await store.apply(*(profile_event(shop, c, segments=["vip"]) for c in customers))
        await store.apply(profile_event(shop, "x", segments=["lapsed"]))
        expected = sorted(customers)  # by code point: digits, upper case, '-', '.', '_', ...
        pages, after = [], None
        while True:
            page = ids(await store.members(shop, "vip", after, 3))
            if not page:
                break
            pages.append(page)
            after = page[-1]
        assert [c for page in pages for c in page] == expected
        assert [len(page) for page in pages] == [3, 3, 3, 2]
        assert ids(await store.members(shop, "vip", "a", 2)) == ["a-1", "a.1"]
        assert ids(await store.members(shop, "vip", "zz", 5)) == ["é"]  # past ASCII
        assert ids(await store.members(shop, "vip", "é", 5)) == []
        assert ids(await store.members(shop, "vip", "0", 1)) == ["10"]

    async def test_a_member_has_the_time_and_rule_version_it_entered_with(self) -> None:
        store, shop = self.store(), unique()
        entered = NOON - timedelta(days=3)
        event = profile_event(shop, "c-1", segments=["vip"], since=entered, rule_version=4)
        await store.apply(event)
        [member] = await store.members(shop, "vip", None, 10)
        assert member == Member("c-1", entered, 4)

    async def test_segments_are_listed_by_id_in_code_point_order(self) -> None:
        store, shop = self.store(), unique()
        segments = ["ab", "a_b", "a-b", "a.b", "a9", "vip"]
        await store.apply(profile_event(shop, "c-1", segments=segments))
        await store.apply(profile_event(shop, "c-2", segments=["vip"]))
        found = await store.segments(shop)
        assert [s.segment_id for s in found] == sorted(segments)
        assert sizes(found)["vip"] == 2

    async def test_a_removed_profile_is_forgotten_with_its_memberships(self) -> None:
        store, shop = self.store(), unique()
        await store.apply(profile_event(shop, "c-1", segments=["vip", "lapsed"]))
        await store.apply(profile_event(shop, "c-2", segments=["vip"]))
        await store.remove(Person(shop, False, "c-1"), Person(shop, False, "never-seen"))
        await store.remove(Person(shop, False, "c-1"))  # again: nothing more happens
        assert await store.profile(shop, "c-1") is None
        assert sizes(await store.segments(shop)) == {"vip": 1}
        assert ids(await store.members(shop, "vip", None, 10)) == ["c-2"]
        await store.apply(profile_event(shop, "c-1", segments=["vip"]))  # back again
        assert sizes(await store.segments(shop)) == {"vip": 2}
        await store.remove()
        await store.apply()
        assert sizes(await store.segments(shop)) == {"vip": 2}
