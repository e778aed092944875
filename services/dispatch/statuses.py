"""Publishing message status changes on `messages.status.v1`."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from shared.clock import Clock
from shared.events.messages import STATUS_EVENTS, MessageUpdate, status_event_id
from shared.topics import MESSAGES_STATUS

SOURCE = "/services/dispatch"


class KafkaStatuses:
    def __init__(self, producer: AIOKafkaProducer, clock: Clock) -> None:
        self._producer = producer
        self._clock = clock

    async def publish(self, shop_id: str, customer_id: str, update: MessageUpdate) -> None:
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
        await self._producer.send(
            MESSAGES_STATUS.name,
            event.model_dump_json(exclude_none=True).encode(),
            key=event.key.encode(),
        )
