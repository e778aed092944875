"""Reading the topics dispatch depends on, with a plain aiokafka consumer group.

Why not Faust: dispatch's state is in PostgreSQL, not in tables, and each record's effect is a
database write; a plain consumer lets a whole poll be written in one transaction and the
offsets committed right after it (at-least-once; every write is idempotent: the trigger id is
the message log's key, contact facts merge by recency), with none of Faust's concurrency
caveats (issue 606). Sending is not done here: a provider outage never stalls reading.
The segmenter's profiles (`customer.profiles.v1`, compacted) come in the same way, as one more
fact about a contact (profiles.py: the newest profile wins, whatever the order they come in).

A poll's offsets are committed only once every record of it was stored or parked on its
topic's dead-letter topic with the reason, and its `queued` statuses were acknowledged:

- a record that does not parse is parked at once;
- when the poll's transaction fails because PostgreSQL refuses some row (shared/db/errors.py:
  a NUL in a text, a value too long, a constraint), the poll is written again record by
  record, each under a savepoint: the records refused are parked with the database's message,
  the others are kept;
- any other failure (the database or the broker unavailable) gives the poll back: the
  consumer is moved to its first offsets and the poll is read again after a backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from services.dispatch import contacts, metrics, profiles
from services.dispatch.ports import Store, Transaction
from services.dispatch.sender import StatusSink
from shared.clock import Clock
from shared.db import errors as db_errors
from shared.dead_letters import Parked, park
from shared.events import (
    FeedbackEvent,
    ShopEvent,
    TriggerEvent,
    parse_feedback_event,
    parse_shop_event,
    parse_trigger_event,
)
from shared.events import feedback as fb
from shared.events.messages import MessageStatus, MessageUpdate, message_id
from shared.events.peek import Skipping, types_of
from shared.events.triggers import TriggerFiredEvent
from shared.loop_producer import LoopProducer
from shared.polls import Record, consume_once
from shared.topics import CUSTOMER_PROFILES, FEEDBACK_EVENTS, SHOP_EVENTS, TRIGGERS_FIRED

log = logging.getLogger(__name__)
TOPICS = (TRIGGERS_FIRED.name, SHOP_EVENTS.name, FEEDBACK_EVENTS.name, CUSTOMER_PROFILES.name)
EVENT_TOPICS = TOPICS[:3]
"""The topics a new group may start at their end (NUDGE_DISPATCH_START_FROM=latest): not the
profiles, a compacted topic whose every record is a customer's current state, read from the
start by a new group whatever it is told."""
_ENGAGEMENT = {
    fb.MessageOpenedEvent: "opened",
    fb.MessageClickedEvent: "clicked",
    fb.ReplyReceivedEvent: "replied",
}
_WANTED = types_of((TriggerFiredEvent, *_ENGAGEMENT, *contacts.FACT_EVENTS))
"""The types a record's effects come from; the other known types of the event topics are
passed over without being validated (shared/events/peek.py)."""
_SKIPPING = {
    TRIGGERS_FIRED.name: Skipping(TriggerEvent, _WANTED),
    SHOP_EVENTS.name: Skipping(ShopEvent, _WANTED),
    FEEDBACK_EVENTS.name: Skipping(FeedbackEvent, _WANTED),
}


@dataclass(frozen=True, slots=True)
class Effects:
    """What one record asks of the database."""

    record: Record
    facts: contacts.ContactFacts | None = None
    fired: TriggerFiredEvent | None = None
    engagement: tuple[str, str, datetime] | None = None
    profile: profiles.ProfileFacts | None = None


@dataclass
class Stored:
    """What a poll's transaction kept."""

    fired: list[TriggerFiredEvent] = field(default_factory=list)
    """The `trigger.fired` records stored (a trigger met twice is here twice)."""
    new: set[str] = field(default_factory=set)
    """Ids of the triggers that were not in the message log before."""
    waiting: set[str] = field(default_factory=set)
    """Ids of the repeats that no sender has taken yet."""
    refused: list[tuple[Record, str]] = field(default_factory=list)
    """Records PostgreSQL refused, with its message."""


class Intake:
    """Reads the topics into the store; built by bootstrap.build_dispatch."""

    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        producer: LoopProducer,
        store: Store,
        statuses: StatusSink,
        clock: Clock,
    ) -> None:
        self.consumer = consumer
        self.producer = producer
        self.store = store
        self.statuses = statuses
        self.clock = clock

    async def run_once(self, timeout_ms: int = 500, max_records: int = 1000) -> int:
        """Read one poll, store or park every record of it, then commit its offsets
        (shared/polls.py: a poll that fails is given back and read again)."""
        return await consume_once(
            self.consumer,
            self.handle,
            timeout_ms=timeout_ms,
            max_records=max_records,
            given_back=metrics.INTAKE_POLLS_GIVEN_BACK.inc,
        )

    async def handle(self, records: Sequence[Record]) -> None:
        """Store the records' effects, park those that cannot be stored, announce `queued`;
        return once all of it is acknowledged (raise, and nothing may be taken as done)."""
        parked: list[Parked] = []
        work: list[Effects] = []
        for record in records:
            try:
                effects = _effects(record)
            except (ValidationError, ValueError) as exc:
                parked.append(self._letter(record, f"invalid record: {exc}", "invalid"))
                continue
            except Exception as exc:  # a bug met on this record: it must not hold up the rest
                log.exception(
                    "cannot read %s[%d]@%d", record.topic, record.partition, record.offset
                )
                parked.append(self._letter(record, f"internal error: {exc!r}", "internal"))
                continue
            if effects is not None:
                work.append(effects)
        stored = await self._store(work)
        parked += [
            self._letter(record, f"cannot be stored: {why}", "refused")
            for record, why in stored.refused
        ]
        metrics.TRIGGERS.labels("queued").inc(len(stored.new))
        metrics.TRIGGERS.labels("repeat").inc(len(stored.fired) - len(stored.new))
        deliveries: list[Awaitable[object]] = [
            self.producer.delivery(p.topic, p.value, p.key) for p in parked
        ]
        deliveries += await self._announce(stored)
        await asyncio.gather(*deliveries)  # acknowledged before the offsets are committed

    async def _store(self, work: Sequence[Effects]) -> Stored:
        """The whole poll in one transaction; when PostgreSQL refuses a row, record by record.
        A poll that asks nothing of the database costs no transaction."""
        if not work:
            return Stored()
        try:
            async with self.store.transaction() as tx:
                stored = Stored(fired=[e.fired for e in work if e.fired is not None])
                stored.new = await _write(tx, work)
                stored.waiting = await _waiting(tx, stored)
                return stored
        except Exception as exc:
            if not db_errors.is_permanent(exc):
                raise
            log.warning(
                "PostgreSQL refused a row (%s); storing the poll's %d records one by one",
                db_errors.describe(exc),
                len(work),
            )
        async with self.store.transaction() as tx:
            stored = Stored()
            for effects in work:
                try:
                    async with tx.savepoint():
                        stored.new |= await _write(tx, [effects])
                except Exception as exc:
                    if not db_errors.is_permanent(exc):
                        raise
                    stored.refused.append((effects.record, db_errors.describe(exc)))
                    continue
                if effects.fired is not None:
                    stored.fired.append(effects.fired)
            stored.waiting = await _waiting(tx, stored)
            return stored

    def _letter(self, record: Record, reason: str, kind: str) -> Parked:
        """The dead letter of `record`, for its own topic's dead-letter topic."""
        metrics.INTAKE_PARKED.labels(record.topic, kind).inc()
        return park(record, service="dispatch", reason=reason, now=self.clock.now())

    async def _announce(self, stored: Stored) -> list[Awaitable[object]]:
        """`queued` for every trigger no sender has taken yet, repeats included: a repeat is how
        a crash between the database commit and the acknowledgement shows (the offsets were
        not committed), and its status event has the same id, so readers see it once."""
        announced: set[str] = set()
        deliveries = []
        for trigger in stored.fired:
            if trigger.id in announced or trigger.customerid is None:
                continue
            if trigger.id in stored.new or trigger.id in stored.waiting:
                announced.add(trigger.id)
                record = self.statuses.status(trigger.shopid, trigger.customerid, _queued(trigger))
                deliveries.append(await self.statuses.send(record))
        return deliveries


def _effects(record: Record) -> Effects | None:
    """Parse a record into what it asks of the database; None when it asks nothing."""
    if record.topic == CUSTOMER_PROFILES.name:
        profile = profiles.facts_from(record)
        return None if profile is None else Effects(record, profile=profile)
    raw = record.value or b""
    if _SKIPPING[record.topic].skips(raw):
        return None
    if record.topic == TRIGGERS_FIRED.name:
        trigger = parse_trigger_event(raw)
        return Effects(record, fired=trigger) if isinstance(trigger, TriggerFiredEvent) else None
    event = parse_shop_event(raw) if record.topic == SHOP_EVENTS.name else parse_feedback_event(raw)
    engagement = None
    how = _ENGAGEMENT.get(type(event))
    ref = getattr(event.data, "message", None) if how is not None else None
    machine = getattr(event.data, "machine", False)  # Apple's proxy, a link scanner: no one
    if how is not None and ref is not None and ref.message_id is not None and not machine:
        engagement = (how, ref.message_id, event.time)
    facts = contacts.facts_from(event)
    if facts is None and engagement is None:
        return None
    return Effects(record, facts=facts, engagement=engagement)


async def _write(tx: Transaction, work: Iterable[Effects]) -> set[str]:
    """Write the effects; return the ids of the triggers that were new."""
    items = list(work)
    await tx.contacts.record([e.facts for e in items if e.facts is not None])
    await tx.contacts.record_profiles([e.profile for e in items if e.profile is not None])
    new = await tx.log.enqueue([e.fired for e in items if e.fired is not None])
    for effects in items:
        if effects.engagement is not None:
            await tx.log.engaged(*effects.engagement)
    return new


async def _waiting(tx: Transaction, stored: Stored) -> set[str]:
    repeats = [t.id for t in stored.fired if t.id not in stored.new]
    return await tx.log.still_queued(repeats)


def _queued(trigger: TriggerFiredEvent) -> MessageUpdate:
    data = trigger.data
    return MessageUpdate(
        message_id=message_id(trigger.id, "none"),
        trigger_id=trigger.id,
        campaign_id=data.campaign_id,
        step_id=data.step_id,
        variant=data.variant,
        transactional=data.transactional,
        status=MessageStatus.QUEUED,
        template_id=data.template_id,
    )
