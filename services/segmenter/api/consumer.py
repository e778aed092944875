"""The projection's consumer: `customer.profiles.v1` into the store, at least once.

Per poll (shared/polls.py commits it only once `handle` returned, so a crash in between reads
the poll again, and the store's writes are idempotent): each record is read, the last word per
person kept (the latest profile by envelope time, or a tombstone, which forgets the profile),
and all of them written in one go. A record that does not parse, or whose key is not the
customer's its envelope names, is parked on `customer.profiles.dlq.v1` with the reason; a
profile PostgreSQL refuses (a NUL in a text) is found by writing the poll's profiles one by one
and parked with the database's reason. A database outage gives the poll back: it is read again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from typing import Final, Protocol

from aiokafka import AIOKafkaConsumer

from services.segmenter.api import metrics
from services.segmenter.api.store import Person, ProfileProjection
from shared.db import errors as db_errors
from shared.dead_letters import Parked, park
from shared.events.profiles import CustomerProfileEvent, parse_profile_event
from shared.polls import Record, consume_once
from shared.topics import CUSTOMER_PROFILES

TOPICS: Final = (CUSTOMER_PROFILES.name,)
SERVICE: Final = "segmenter-api"


class Parking(Protocol):
    """Where dead letters go (the service's producer): done once the broker has them."""

    def delivery(self, topic: str, value: bytes, key: str | bytes | None) -> Awaitable[None]: ...


def read(record: Record) -> tuple[Person, CustomerProfileEvent | None]:
    """Whose profile the record holds, and the profile (None: a tombstone, the person is
    forgotten). Raises ValueError (pydantic's ValidationError is one) for a record that does
    not parse, or whose key is not its envelope's."""
    key = record.key.decode() if record.key is not None else None  # UnicodeDecodeError too
    if record.value is None:
        if key is None:
            raise ValueError("a tombstone without a key")
        return Person.from_key(key), None
    event = parse_profile_event(record.value)
    if key != event.key:
        raise ValueError(f"the record key {key!r} is not the envelope's {event.key!r}")
    return Person.of(event), event


class Projector:
    def __init__(
        self, consumer: AIOKafkaConsumer | None, parking: Parking, store: ProfileProjection
    ) -> None:
        self.consumer = consumer
        self.parking = parking
        self.store = store

    async def run_once(self, timeout_ms: int = 500, max_records: int = 1000) -> int:
        assert self.consumer is not None
        return await consume_once(
            self.consumer,
            self.handle,
            timeout_ms=timeout_ms,
            max_records=max_records,
            given_back=metrics.POLLS_GIVEN_BACK.inc,
        )

    async def handle(self, records: Sequence[Record]) -> None:
        """Store the poll's last word per person and park what cannot be read or stored;
        return once the dead letters are acknowledged (raise, and the poll is read again)."""
        parked: list[Parked] = []
        last: dict[Person, tuple[Record, CustomerProfileEvent | None]] = {}
        for record in records:
            try:
                person, event = read(record)
            except ValueError as exc:
                parked.append(_park(record, f"invalid record: {exc}"))
                continue
            held = last.get(person)
            if held is not None:
                metrics.RECORDS.labels("superseded").inc()  # the held one, or this one
                if _older(event, held[1]):
                    continue
            last[person] = (record, event)
        profiles = [(record, event) for record, event in last.values() if event is not None]
        refused = await self._apply(profiles)
        parked += [_park(record, f"cannot be stored: {why}") for record, why in refused]
        gone = [person for person, (_, event) in last.items() if event is None]
        if gone:
            await self.store.remove(*gone)
            metrics.RECORDS.labels("removed").inc(len(gone))
        await asyncio.gather(*(self.parking.delivery(p.topic, p.value, p.key) for p in parked))

    async def _apply(
        self, profiles: Sequence[tuple[Record, CustomerProfileEvent]]
    ) -> list[tuple[Record, str]]:
        """All at once; when PostgreSQL refuses a row, each profile alone. The refused ones,
        with the database's reason (an outage raises: the poll is read again)."""
        if not profiles:
            return []
        try:
            await self.store.apply(*(event for _, event in profiles))
            metrics.RECORDS.labels("stored").inc(len(profiles))
            return []
        except Exception as exc:
            if not db_errors.is_permanent(exc):
                raise
        refused = []
        for record, event in profiles:
            try:
                await self.store.apply(event)
                metrics.RECORDS.labels("stored").inc()
            except Exception as exc:
                if not db_errors.is_permanent(exc):
                    raise
                refused.append((record, db_errors.describe(exc)))
        return refused


def _older(event: CustomerProfileEvent | None, held: CustomerProfileEvent | None) -> bool:
    """A profile older than the one held from earlier in the poll (a tombstone is never
    older, nor is anything than a tombstone: those follow the partition's order)."""
    return event is not None and held is not None and event.time < held.time


def _park(record: Record, reason: str) -> Parked:
    metrics.RECORDS.labels("parked").inc()
    return park(record, service=SERVICE, reason=reason)
