"""Reports' consumer: statuses, feedback and conversions into the report store.

Per poll (shared/polls.py commits it only once `handle` returned): each record's facts are read
(facts.py), their campaigns found (the record's own, else the poll's or the store's `sent` fact
of the message, else the directory's, else `unattributed`), then stored in one go; when
PostgreSQL refuses a row, record by record, and the refused records are parked with the
database's reason. An outage gives the poll back: it is read again, and what was stored before
counts nothing twice (store.py).

Bad records never hold up their neighbours. A status or feedback record that does not parse is
skipped (counted `invalid`): the index reads those topics with the same parsers and parks it,
so each bad record has one dead letter. Nothing else in the service reads `conversions.v1`: its
records that do not parse are parked here, on `conversions.dlq.v1`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import replace
from typing import Final, Protocol

import orjson
from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from services.feedback.directory import Directory
from services.feedback.reports import metrics
from services.feedback.reports.facts import (
    UNATTRIBUTED,
    WANTED_TYPES,
    Answer,
    Fact,
    Observation,
    ReplyTags,
    observe,
)
from services.feedback.reports.store import Batch, MessageKey, ReportStore
from shared.db import errors as db_errors
from shared.dead_letters import Parked, park
from shared.events import parse_feedback_event, parse_message_event
from shared.events.conversions import parse_conversion_event
from shared.polls import Record, consume_once
from shared.topics import CONVERSIONS, FEEDBACK_EVENTS, MESSAGES_STATUS

TOPICS: Final = (MESSAGES_STATUS.name, FEEDBACK_EVENTS.name, CONVERSIONS.name)
SERVICE: Final = "feedback-reports"
PARKED_HERE: Final = frozenset({CONVERSIONS.name})
"""Topics whose unreadable records reports park (the index parks the others')."""
_PARSERS = {
    MESSAGES_STATUS.name: parse_message_event,
    FEEDBACK_EVENTS.name: parse_feedback_event,
    CONVERSIONS.name: parse_conversion_event,
}


class Parking(Protocol):
    """Where dead letters go (the service's producer): done once the broker has them."""

    def delivery(self, topic: str, value: bytes, key: str | bytes | None) -> Awaitable[None]: ...


class Reporter:
    def __init__(
        self,
        consumer: AIOKafkaConsumer | None,
        parking: Parking,
        store: ReportStore,
        directory: Directory,
    ) -> None:
        self.consumer = consumer
        self.parking = parking
        self.store = store
        self.directory = directory

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
        """Store what the records state; park what cannot be read (conversions) or stored;
        return once the dead letters are acknowledged (raise, and the poll is read again)."""
        parked: list[Parked] = []
        work: list[tuple[Record, list[Observation]]] = []
        for record in records:
            try:
                found = read(record)
            except (ValidationError, ValueError) as exc:
                if record.topic in PARKED_HERE:
                    parked.append(_park(record, f"invalid record: {exc}"))
                else:
                    metrics.RECORDS.labels(record.topic, "invalid").inc()  # the index parks it
                continue
            if found:
                work.append((record, found))
            else:
                metrics.RECORDS.labels(record.topic, "ignored").inc()
        campaigns = await self._campaigns([o for _, found in work for o in found])
        batches = [(record, _batch(found, campaigns)) for record, found in work]
        refused = await self._store(batches)
        parked += [_park(record, f"cannot be stored: {why}") for record, why in refused]
        await asyncio.gather(*(self.parking.delivery(p.topic, p.value, p.key) for p in parked))

    async def _campaigns(self, observations: Sequence[Observation]) -> dict[MessageKey, str]:
        """The campaign of each message the observations name without their campaign: as the
        poll says (a `message.sent` beside its open), else the store, else the directory (the
        message must be the same shop's)."""
        wanted = {
            (o.shop_id, o.message_id)
            for o in observations
            if o.campaign_id is None and o.message_id is not None
        }
        if not wanted:
            return {}
        said = {
            (o.shop_id, o.message_id): o.campaign_id
            for o in observations
            if o.campaign_id is not None and o.message_id is not None
        }
        found = {key: said[key] for key in wanted if key in said}
        found |= await self.store.campaigns(wanted - found.keys())
        for shop_id, message_id in sorted(wanted - found.keys()):
            sent = await self.directory.message(message_id)
            if sent is not None and sent.ref.shop_id == shop_id:
                found[shop_id, message_id] = sent.campaign_id
        return found

    async def _store(self, batches: Sequence[tuple[Record, Batch]]) -> list[tuple[Record, str]]:
        """All at once; when PostgreSQL refuses a row, each record alone. The refused ones,
        with the database's reason (an outage raises: the poll is read again)."""
        if not batches:
            return []
        try:
            await self.store.record(_joined(batch for _, batch in batches))
            for record, _ in batches:
                metrics.RECORDS.labels(record.topic, "counted").inc()
            return []
        except Exception as exc:
            if not db_errors.is_permanent(exc):
                raise
        refused = []
        for record, batch in batches:
            try:
                await self.store.record(batch)
                metrics.RECORDS.labels(record.topic, "counted").inc()
            except Exception as exc:
                if not db_errors.is_permanent(exc):
                    raise
                refused.append((record, db_errors.describe(exc)))
        return refused


def read(record: Record) -> list[Observation]:
    """What a record states for reports (nothing for the types they do not count). Raises
    ValueError (pydantic's ValidationError is one) for a record that does not parse."""
    raw = record.value or b""
    peek = orjson.loads(raw)  # orjson.JSONDecodeError is a ValueError
    parse = _PARSERS.get(record.topic)
    if parse is None or not isinstance(peek, dict) or peek.get("type") not in WANTED_TYPES:
        return []
    return observe(parse(raw))


def _found(observation: Observation, campaigns: dict[MessageKey, str]) -> Observation:
    if observation.campaign_id is not None:
        return observation
    key = (observation.shop_id, observation.message_id or "")
    return replace(observation, campaign_id=campaigns.get(key, UNATTRIBUTED))


def _batch(observations: Sequence[Observation], campaigns: dict[MessageKey, str]) -> Batch:
    found = [_found(o, campaigns) for o in observations]
    return Batch(
        facts=[o for o in found if isinstance(o, Fact)],
        answers=[o for o in found if isinstance(o, Answer)],
        replies=[o for o in found if isinstance(o, ReplyTags)],
    )


def _joined(batches: Iterable[Batch]) -> Batch:
    facts: list[Fact] = []
    answers: list[Answer] = []
    replies: list[ReplyTags] = []
    for batch in batches:
        facts += batch.facts
        answers += batch.answers
        replies += batch.replies
    return Batch(facts, answers, replies)


def _park(record: Record, reason: str) -> Parked:
    metrics.RECORDS.labels(record.topic, "parked").inc()
    return park(record, service=SERVICE, reason=reason)
