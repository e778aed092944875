"""Publishing message status changes on `messages.status.v1`, and given-up triggers on
`messages.dlq.v1` (the trigger as it arrived, with the last error: replayable by operators)."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer
from aiokafka.structs import RecordMetadata

from services.dispatch.message_log import MessageRow
from shared.clock import Clock
from shared.events import DeadLetter
from shared.events.messages import STATUS_EVENTS, MessageUpdate, status_event_id
from shared.topics import MESSAGES_DLQ, MESSAGES_STATUS, TRIGGERS_FIRED

SOURCE = "/services/dispatch"


class KafkaStatuses:
    def __init__(self, producer: AIOKafkaProducer, clock: Clock) -> None:
        self._producer = producer
        self._clock = clock

    async def publish(
        self, shop_id: str, customer_id: str, update: MessageUpdate
    ) -> Awaitable[RecordMetadata]:
        event = STATUS_EVENTS[update.status].model_validate(
            {
                "id": status_event_id(update),
                "source": SOURCE,
                "time": self._clock.now(),
                "subject": f"{update.campaign_id}/{update.step_id}",
                "shopid": shop_id,
                "customerid": customer_id,
                "data": update,
            }
        )
        delivery: Awaitable[RecordMetadata] = await self._producer.send(
            MESSAGES_STATUS.name,
            event.model_dump_json(exclude_none=True).encode(),
            key=event.key.encode(),
        )
        return delivery


class KafkaDeadLetters:
    def __init__(self, producer: AIOKafkaProducer) -> None:
        self._producer = producer

    async def park(self, row: MessageRow, reason: str) -> None:
        letter = DeadLetter(
            source_topic=TRIGGERS_FIRED.name,
            key=f"{row.shop_id}:{row.customer_id}",
            service="dispatch",
            reason=reason[:10_000],
            payload=row.trigger.model_dump_json(exclude_none=True),
            parked_at=datetime.now(UTC),
        )
        await self._producer.send_and_wait(
            MESSAGES_DLQ.name,
            letter.model_dump_json(exclude_none=True).encode(),
            key=f"{row.shop_id}:{row.customer_id}".encode(),
        )
