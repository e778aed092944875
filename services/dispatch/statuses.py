"""The records dispatch publishes: status changes on `messages.status.v1`, and given-up
triggers on `messages.dlq.v1` (the trigger as it arrived, with the last error: replayable by
operators). Built first, then sent, so that a record the broker does not acknowledge in time
can be kept in the outbox as it is."""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Final

import orjson

from services.dispatch.message_log import MessageRow
from services.dispatch.outbox import Outbound
from services.dispatch.settings import DispatchSettings
from shared.clock import Clock
from shared.dead_letters import dead_letter
from shared.events.envelope import record_key
from shared.events.messages import STATUS_EVENTS, MessageUpdate, status_event_id
from shared.loop_producer import LoopProducer
from shared.settings import KafkaSettings
from shared.topics import MESSAGES_DLQ, MESSAGES_STATUS, TRIGGERS_FIRED

SOURCE = "/services/dispatch"
_TYPES: Final = {
    status: event.model_fields["type"].default for status, event in STATUS_EVENTS.items()
}


def status_producer(kafka: KafkaSettings, settings: DispatchSettings) -> LoopProducer:
    """Dispatch's producer. A status not acknowledged within `status_ack_timeout_s` is kept in
    the outbox (outbox.py), so librdkafka need not hold it any longer."""
    return LoopProducer(
        kafka,
        client_id="nudge-dispatch",
        timeout_s=settings.status_ack_timeout_s,
        linger_ms=2,
        probe_topic=MESSAGES_STATUS.name,
    )


class KafkaStatuses:
    def __init__(self, producer: LoopProducer, clock: Clock) -> None:
        self._producer = producer
        self._clock = clock

    def status(self, shop_id: str, customer_id: str, update: MessageUpdate) -> Outbound:
        """The record of one status change, as `STATUS_EVENTS[update.status]` writes it.

        Built as a dict and encoded by orjson, without validating the envelope again: each
        part is validated already (the update when it was made, the shop and customer ids
        with the trigger they came in), and a message has at least two status records. A test
        holds the bytes to the model's own."""
        event = {
            "specversion": "1.0",
            "id": status_event_id(update),
            "source": SOURCE,
            "type": _TYPES[update.status],
            "time": self._clock.now().astimezone(UTC),
            "subject": f"{update.campaign_id}/{update.step_id}",
            "datacontenttype": "application/json",
            "shopid": shop_id,
            "customerid": customer_id,
            "schemaversion": 1,
            "data": update.model_dump(exclude_none=True),
        }
        value = orjson.dumps(event, option=orjson.OPT_UTC_Z)
        return Outbound(
            MESSAGES_STATUS.name, record_key(shop_id, customer_id, None).encode(), value
        )

    def dead_letter(self, row: MessageRow, reason: str) -> Outbound:
        """The given-up trigger for `messages.dlq.v1` (dispatch's own dead-letter topic, on
        purpose: the trigger was valid, its sending failed), by the shared builder."""
        key = record_key(row.shop_id, row.customer_id, None).encode()
        parked = dead_letter(
            source_topic=TRIGGERS_FIRED.name,
            partition=None,
            offset=None,
            key=key,
            value=row.trigger.model_dump_json(exclude_none=True).encode(),
            service="dispatch",
            reason=reason,
            now=self._clock.now(),
            topic=MESSAGES_DLQ.name,
        )
        return Outbound(parked.topic, key, parked.value)

    async def send(self, record: Outbound) -> asyncio.Future[None]:
        return self._producer.delivery(record.topic, record.value, record.key)
