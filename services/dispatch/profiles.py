"""What dispatch keeps of the segmenter's profiles (`customer.profiles.v1`), per customer.

The smallest projection that helps a message: the channel the customer engages with best
(preference.py, derived here once per profile, not per message) and the RFM monetary score
that scales the win-back incentive (incentives.py). Kept in `dispatch_profiles` (migration
0014), read with the contact in its one query (contacts.load), written by the intake in the
poll's transaction like every contact fact.

Rules:
- the envelope time orders profiles: an older record than the one stored changes nothing
  (equal: taken, the later record on the partition wins), so a replayed poll, a duplicate or a
  record replayed from the dead-letter topic converges on the latest profile;
- a tombstone (a record without a value) forgets the customer's profile;
- anonymous visitors' profiles (`shop:anon:<visitor>`) are not contacts: ignored;
- a record that does not parse, or whose key is not its envelope's customer, is invalid
  (ValueError: the intake parks it on `customer.profiles.dlq.v1` with the reason).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.dispatch.preference import preferred_channel
from shared.events.profiles import parse_profile_event
from shared.events.shop import Channel
from shared.polls import Record

_ANONYMOUS = "anon:"


@dataclass(frozen=True, slots=True)
class ProfileFacts:
    """What one record says of a customer's profile; `as_of` None: forget it (a tombstone)."""

    shop_id: str
    customer_id: str
    as_of: datetime | None
    event_id: str | None = None
    preferred_channel: Channel | None = None
    monetary_score: int | None = None


def facts_from(record: Record) -> ProfileFacts | None:
    """The facts a `customer.profiles.v1` record carries; None for an anonymous visitor's.
    Raises ValueError (pydantic's ValidationError is one) for an invalid record."""
    if record.key is None:
        raise ValueError("a profile record without a key")
    key = record.key.decode()  # UnicodeDecodeError is a ValueError
    shop_id, colon, person = key.partition(":")
    if not colon or not shop_id or not person:
        raise ValueError(f"not a customer key: {key[:100]!r}")
    if record.value is None:
        if person.startswith(_ANONYMOUS):
            return None
        return ProfileFacts(shop_id, person, None)
    event = parse_profile_event(record.value)
    if key != event.key:
        raise ValueError(f"the record key {key[:100]!r} is not the envelope's {event.key!r}")
    if event.customerid is None:
        return None
    profile = event.data
    return ProfileFacts(
        shop_id=event.shopid,
        customer_id=event.customerid,
        as_of=event.time,
        event_id=event.id,
        preferred_channel=preferred_channel(profile.engagement),
        monetary_score=None if profile.rfm is None else profile.rfm.m,
    )


def last_words(facts: Sequence[ProfileFacts]) -> list[ProfileFacts]:
    """What counts per customer of several records, in order: the latest profile by envelope
    time (on a tie, the later one), or a tombstone, which follows the partition's order."""
    found: dict[tuple[str, str], ProfileFacts] = {}
    for item in facts:
        who = (item.shop_id, item.customer_id)
        held = found.get(who)
        if (
            held is not None
            and item.as_of is not None
            and held.as_of is not None
            and item.as_of < held.as_of
        ):
            continue
        found[who] = item
    return list(found.values())


_UPSERT = text(
    """
INSERT INTO dispatch_profiles (
    shop_id, customer_id, preferred_channel, monetary_score, as_of, event_id
) VALUES (:shop_id, :customer_id, :preferred_channel, :monetary_score, :as_of, :event_id)
ON CONFLICT (shop_id, customer_id) DO UPDATE SET
    preferred_channel = EXCLUDED.preferred_channel,
    monetary_score = EXCLUDED.monetary_score,
    as_of = EXCLUDED.as_of,
    event_id = EXCLUDED.event_id,
    updated_at = now()
WHERE EXCLUDED.as_of >= dispatch_profiles.as_of
"""
)
_FORGET = text(
    "DELETE FROM dispatch_profiles WHERE shop_id = :shop_id AND customer_id = :customer_id"
)


async def record(conn: AsyncConnection, facts: Sequence[ProfileFacts]) -> None:
    """Store the last word per customer: profiles newer than the stored one, tombstones."""
    kept = last_words(facts)
    upserts = [_params(item) for item in kept if item.as_of is not None]
    forgotten = [
        {"shop_id": item.shop_id, "customer_id": item.customer_id}
        for item in kept
        if item.as_of is None
    ]
    if upserts:
        await conn.execute(_UPSERT, upserts)
    if forgotten:
        await conn.execute(_FORGET, forgotten)


def _params(item: ProfileFacts) -> dict[str, Any]:
    return {
        "shop_id": item.shop_id,
        "customer_id": item.customer_id,
        "preferred_channel": None
        if item.preferred_channel is None
        else item.preferred_channel.value,
        "monetary_score": item.monetary_score,
        "as_of": item.as_of,
        "event_id": item.event_id,
    }
