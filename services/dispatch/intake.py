"""Reading the topics dispatch depends on, with a plain aiokafka consumer group.

Why not Faust: dispatch's state is in PostgreSQL, not in tables, and each record's effect is a
database write; a plain consumer lets a whole poll be written in one transaction and the
offsets committed right after it (at-least-once; every write is idempotent: the trigger id is
the message log's key, contact facts merge by recency), with none of Faust's concurrency
caveats (issue 606). Sending is not done here: a provider outage never stalls reading. The
`queued` statuses of a poll are acknowledged by the broker before its offsets are committed.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine

from services.dispatch import contacts, message_log, metrics
from services.dispatch.sender import StatusSink
from shared.events import (
    DeadLetter,
    parse_feedback_event,
    parse_shop_event,
    parse_trigger_event,
)
from shared.events import feedback as fb
from shared.events.messages import MessageStatus, MessageUpdate, message_id
from shared.events.triggers import TriggerFiredEvent
from shared.loop_producer import LoopProducer
from shared.topics import FEEDBACK_EVENTS, SHOP_EVENTS, SHOP_EVENTS_DLQ, TRIGGERS_FIRED

log = logging.getLogger(__name__)
TOPICS = (TRIGGERS_FIRED.name, SHOP_EVENTS.name, FEEDBACK_EVENTS.name)
_ENGAGEMENT = {
    fb.MessageOpenedEvent: "opened",
    fb.MessageClickedEvent: "clicked",
    fb.ReplyReceivedEvent: "replied",
}


class Intake:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        producer: LoopProducer,
        engine: AsyncEngine,
        statuses: StatusSink,
    ) -> None:
        self.consumer = consumer
        self.producer = producer
        self.engine = engine
        self.statuses = statuses

    async def run_once(self, timeout_ms: int = 500, max_records: int = 1000) -> int:
        batches = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        records = [record for batch in batches.values() for record in batch]
        if records:
            await self.handle(records)
            await self.consumer.commit()
        return len(records)

    async def handle(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        fired: list[TriggerFiredEvent] = []
        facts: list[contacts.ContactFacts] = []
        engagement: list[tuple[str, str, datetime]] = []
        for record in records:
            try:
                raw = record.value or b""
                if record.topic == TRIGGERS_FIRED.name:
                    trigger = parse_trigger_event(raw)
                    if isinstance(trigger, TriggerFiredEvent):
                        fired.append(trigger)
                    continue
                event = (
                    parse_shop_event(raw)
                    if record.topic == SHOP_EVENTS.name
                    else parse_feedback_event(raw)
                )
            except (ValidationError, ValueError) as exc:
                await self._park(record, f"invalid record: {exc}"[:2000])
                continue
            found = contacts.facts_from(event)
            if found is not None:
                facts.append(found)
            how = _ENGAGEMENT.get(type(event))
            ref = getattr(event.data, "message", None)
            if how is not None and ref is not None and ref.message_id is not None:
                engagement.append((how, ref.message_id, event.time))
        async with self.engine.begin() as conn:
            await contacts.record(conn, facts)
            new = await message_log.enqueue(conn, fired)
            for how, message, at in engagement:
                await message_log.engaged(conn, how, message, at)
            repeats = [t.id for t in fired if t.id not in new]
            waiting = await message_log.still_queued(conn, repeats)
        metrics.TRIGGERS.labels("queued").inc(len(new))
        metrics.TRIGGERS.labels("repeat").inc(len(fired) - len(new))
        # `queued` for every trigger no sender has taken yet, repeats included: a repeat is how
        # a crash between the commit above and the acknowledgement below shows (the offsets
        # were not committed), and its status event has the same id, so readers see it once.
        announced: set[str] = set()
        deliveries = []
        for trigger in fired:
            if trigger.id in announced or trigger.customerid is None:
                continue
            if trigger.id in new or trigger.id in waiting:
                announced.add(trigger.id)
                record = self.statuses.status(trigger.shopid, trigger.customerid, _queued(trigger))
                deliveries.append(await self.statuses.send(record))
        await asyncio.gather(*deliveries)  # acknowledged before the offsets are committed

    async def _park(self, record: ConsumerRecord[bytes, bytes], reason: str) -> None:
        value = record.value or b""
        try:
            payload, encoding = value.decode(), "utf-8"
        except UnicodeDecodeError:
            payload, encoding = base64.b64encode(value).decode(), "base64"
        letter = DeadLetter(
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
            key=record.key.decode(errors="replace") if record.key else None,
            service="dispatch",
            reason=reason,
            payload=payload,
            payload_encoding=encoding,
            parked_at=datetime.now(UTC),
        )
        value = letter.model_dump_json(exclude_none=True).encode()
        await self.producer.delivery(SHOP_EVENTS_DLQ.name, value, record.key)


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
