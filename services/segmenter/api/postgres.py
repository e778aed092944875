"""The projection in PostgreSQL: `segmenter_*` (migration 0013).

`apply` runs in one transaction: the profiles are upserted only where the held one is not newer
(`RETURNING` gives the ones really taken), and for exactly those the memberships are replaced
and the segment sizes moved by the difference. The upsert locks each taken profile's row until
the commit, so two consumers writing one customer at once (a rebalance) replace its
memberships one after the other, never interleaved, and the sizes stay the count of the
memberships. Rows are written in key order, so concurrent writers take their locks in one order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.segmenter.api.store import (
    Member,
    Person,
    SegmentSize,
    StoredProfile,
    latest,
    memberships,
)
from shared.events.profiles import CustomerProfile, CustomerProfileEvent

_PEOPLE = "CAST(:shops AS text[]), CAST(:anonymous AS boolean[]), CAST(:people AS text[])"
_UPSERT = text(
    f"""
INSERT INTO segmenter_profiles AS p (shop_id, anonymous, person_id, as_of, event_id, document)
SELECT shop_id, anonymous, person_id, as_of, event_id, CAST(document AS jsonb)
FROM unnest(
    {_PEOPLE}, CAST(:times AS timestamptz[]), CAST(:events AS text[]), CAST(:documents AS text[])
) AS i(shop_id, anonymous, person_id, as_of, event_id, document)
ON CONFLICT (shop_id, anonymous, person_id) DO UPDATE SET
    as_of = EXCLUDED.as_of, event_id = EXCLUDED.event_id, document = EXCLUDED.document,
    stored_at = now()
WHERE p.as_of <= EXCLUDED.as_of
RETURNING p.shop_id, p.anonymous, p.person_id
"""
)
_FORGET = text(
    f"""
DELETE FROM segmenter_profiles AS p
USING unnest({_PEOPLE}) AS k(shop_id, anonymous, person_id)
WHERE p.shop_id = k.shop_id AND p.anonymous = k.anonymous AND p.person_id = k.person_id
RETURNING p.shop_id, p.anonymous, p.person_id
"""
)
_LEAVE = text(
    f"""
DELETE FROM segmenter_memberships AS m
USING unnest({_PEOPLE}) AS k(shop_id, anonymous, person_id)
WHERE m.shop_id = k.shop_id AND m.anonymous = k.anonymous AND m.person_id = k.person_id
RETURNING m.shop_id, m.segment_id, m.anonymous
"""
)
_JOIN = text(
    """
INSERT INTO segmenter_memberships
    (shop_id, segment_id, anonymous, person_id, since, rule_version)
SELECT * FROM unnest(
    CAST(:shops AS text[]), CAST(:segments AS text[]), CAST(:anonymous AS boolean[]),
    CAST(:people AS text[]), CAST(:since AS timestamptz[]), CAST(:versions AS integer[])
)
"""
)
_RESIZE = text(
    """
INSERT INTO segmenter_segment_sizes AS s (shop_id, segment_id, customers)
SELECT * FROM unnest(CAST(:shops AS text[]), CAST(:segments AS text[]), CAST(:moves AS bigint[]))
ON CONFLICT (shop_id, segment_id) DO UPDATE SET customers = s.customers + EXCLUDED.customers
"""
)
_PROFILE = text(
    """
SELECT as_of, event_id, CAST(document AS text) AS document FROM segmenter_profiles
WHERE shop_id = :shop AND NOT anonymous AND person_id = :customer
"""
)
_SEGMENTS = text(
    """
SELECT segment_id, customers FROM segmenter_segment_sizes
WHERE shop_id = :shop AND customers > 0
ORDER BY segment_id COLLATE "C"
"""
)
_SIZE = text(
    "SELECT customers FROM segmenter_segment_sizes WHERE shop_id = :shop AND segment_id = :segment"
)
_MEMBERS_WHERE = "shop_id = :shop AND segment_id = :segment AND NOT anonymous"
_FIRST_MEMBERS = text(
    f"""
SELECT person_id, since, rule_version FROM segmenter_memberships
WHERE {_MEMBERS_WHERE}
ORDER BY person_id LIMIT :limit
"""
)
_MEMBERS_AFTER = text(
    f"""
SELECT person_id, since, rule_version FROM segmenter_memberships
WHERE {_MEMBERS_WHERE} AND person_id > :after
ORDER BY person_id LIMIT :limit
"""
)
"""Two statements rather than one with `:after IS NULL OR`: each page is then an index range
scan from its cursor, however deep in a large segment."""


class PostgresProjection:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def apply(self, *events: CustomerProfileEvent) -> None:
        found = latest(events)
        if not found:
            return
        people = sorted(found)
        params = {
            **_people(people),
            "times": [found[p].time for p in people],
            "events": [found[p].id for p in people],
            "documents": [found[p].data.model_dump_json(exclude_none=True) for p in people],
        }
        async with self._engine.begin() as conn:
            taken = sorted(_person(row) for row in await conn.execute(_UPSERT, params))
            if not taken:
                return
            moves = await _leave(conn, taken)
            joined = [(p, m) for p in taken for m in memberships(found[p].data).values()]
            if joined:
                await conn.execute(
                    _JOIN,
                    {
                        "shops": [p.shop_id for p, _ in joined],
                        "segments": [m.segment_id for _, m in joined],
                        "anonymous": [p.anonymous for p, _ in joined],
                        "people": [p.person_id for p, _ in joined],
                        "since": [m.since for _, m in joined],
                        "versions": [m.rule_version for _, m in joined],
                    },
                )
            moves.update((p.shop_id, m.segment_id) for p, m in joined if not p.anonymous)
            await _resize(conn, moves)

    async def remove(self, *people: Person) -> None:
        if not people:
            return
        async with self._engine.begin() as conn:
            gone = sorted(_person(r) for r in await conn.execute(_FORGET, _people(sorted(people))))
            if gone:
                await _resize(conn, await _leave(conn, gone))

    async def profile(self, shop_id: str, customer_id: str) -> StoredProfile | None:
        if "\x00" in customer_id:  # PostgreSQL refuses to hold one: no customer has it
            return None
        async with self._engine.connect() as conn:
            params = {"shop": shop_id, "customer": customer_id}
            row = (await conn.execute(_PROFILE, params)).one_or_none()
        if row is None:
            return None
        profile = CustomerProfile.model_validate_json(row.document)
        return StoredProfile(customer_id, row.as_of, row.event_id, profile)

    async def segments(self, shop_id: str) -> list[SegmentSize]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(_SEGMENTS, {"shop": shop_id})
            return [SegmentSize(row.segment_id, row.customers) for row in rows]

    async def size(self, shop_id: str, segment_id: str) -> int:
        async with self._engine.connect() as conn:
            found = await conn.scalar(_SIZE, {"shop": shop_id, "segment": segment_id})
        return int(found or 0)

    async def members(
        self, shop_id: str, segment_id: str, after: str | None, limit: int
    ) -> list[Member]:
        params: dict[str, Any] = {"shop": shop_id, "segment": segment_id, "limit": limit}
        if after is not None:
            params["after"] = after
        statement = _FIRST_MEMBERS if after is None else _MEMBERS_AFTER
        async with self._engine.connect() as conn:
            rows = await conn.execute(statement, params)
            return [Member(r.person_id, r.since, r.rule_version) for r in rows]


def _people(people: Sequence[Person]) -> dict[str, list[Any]]:
    return {
        "shops": [p.shop_id for p in people],
        "anonymous": [p.anonymous for p in people],
        "people": [p.person_id for p in people],
    }


def _person(row: Row[Any]) -> Person:
    return Person(row.shop_id, row.anonymous, row.person_id)


async def _leave(conn: AsyncConnection, people: Sequence[Person]) -> Counter[tuple[str, str]]:
    """Delete the people's memberships; the customers' ones as moves of the sizes (-1 each)."""
    moves: Counter[tuple[str, str]] = Counter()
    for row in await conn.execute(_LEAVE, _people(people)):
        if not row.anonymous:
            moves[row.shop_id, row.segment_id] -= 1
    return moves


async def _resize(conn: AsyncConnection, moves: Counter[tuple[str, str]]) -> None:
    """Move the segment sizes by `moves` (in key order, for the row locks)."""
    moved = sorted((key, n) for key, n in moves.items() if n)
    if not moved:
        return
    await conn.execute(
        _RESIZE,
        {
            "shops": [shop for (shop, _), _ in moved],
            "segments": [segment for (_, segment), _ in moved],
            "moves": [n for _, n in moved],
        },
    )
