"""The records an inbound text or a status callback becomes, with deterministic ids.

Twilio sends a webhook again with the same MessageSid when it got no answer in time, so every
id derives from the sid (and, for an opt-out that acts on several contacts, from the customer
too): a retried request publishes the same records under the same ids, which consumers drop.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from services.feedback.directory import ContactRef, SentMessage
from services.feedback.sms.keywords import Keyword
from shared.events import EventEnvelope, derived_event_id
from shared.events import feedback as fb
from shared.events.messages import (
    DeliveryStatus,
    MessageDeliveredEvent,
    MessageDelivery,
    MessageUndeliveredEvent,
    delivery_event_id,
)
from shared.events.shop import Channel

INBOUND = "twilio-sms"
STATUS = "twilio-status"
KEYWORD_SOURCE = "sms_keyword"


def message_ref(message: SentMessage | None) -> fb.MessageRef | None:
    if message is None:
        return None
    return fb.MessageRef(
        message_id=message.message_id,
        trigger_id=message.trigger_id,
        campaign_id=message.campaign_id,
    )


def _envelope(ref: ContactRef, origin: str, origin_id: str, now: datetime) -> dict[str, object]:
    return {
        "id": derived_event_id(ref.shop_id, origin, origin_id),
        "source": f"/shops/{ref.shop_id}/twilio",
        "time": now,
        "shopid": ref.shop_id,
        "customerid": ref.customer_id,
    }


def consent_changes(
    keyword: Keyword,
    refs: Sequence[ContactRef],
    *,
    sid: str,
    phone: str,
    last: SentMessage | None,
    now: datetime,
) -> list[EventEnvelope]:
    """STOP: `consent.withdrawn` for each contact; START: `consent.granted`; channel sms.

    The message a change answers is named only for the contact it went to."""
    kind = fb.ConsentWithdrawnEvent if keyword is Keyword.STOP else fb.ConsentGrantedEvent
    events: list[EventEnvelope] = []
    for ref in refs:
        answered = last if last is not None and last.ref == ref else None
        data = fb.ConsentChange(
            channel=Channel.SMS, source=KEYWORD_SOURCE, phone=phone, message=message_ref(answered)
        )
        envelope = _envelope(ref, INBOUND, f"{sid}\x1f{ref.customer_id}", now)
        events.append(kind(**envelope, data=data))
    return events


def reply(
    ref: ContactRef,
    *,
    sid: str,
    text: str,
    answered: SentMessage | None,
    now: datetime,
    tags: Sequence[str] = (),
) -> fb.ReplyReceivedEvent:
    """`reply.received` with the text's tags (services/feedback/tagging/)."""
    data = fb.ReplyReceived(
        channel=Channel.SMS, text=text, tags=list(tags), message=message_ref(answered)
    )
    envelope = _envelope(ref, INBOUND, f"{sid}\x1f{ref.customer_id}", now)
    return fb.ReplyReceivedEvent(**envelope, data=data)


def delivery(
    message: SentMessage,
    status: DeliveryStatus,
    *,
    provider_status: str,
    error_code: str | None,
    permanent: bool | None,
    now: datetime,
) -> EventEnvelope:
    """`message.delivered` / `message.undelivered` for messages.status.v1."""
    assert message.provider_id is not None
    data = MessageDelivery(
        message_id=message.message_id,
        trigger_id=message.trigger_id,
        campaign_id=message.campaign_id,
        channel=message.channel,
        transactional=message.transactional,
        status=status,
        provider_id=message.provider_id,
        provider_status=provider_status,
        error_code=error_code,
        permanent=permanent,
    )
    kind = MessageDeliveredEvent if status is DeliveryStatus.DELIVERED else MessageUndeliveredEvent
    return kind(
        id=delivery_event_id(message.message_id, status),
        source=f"/shops/{message.ref.shop_id}/twilio",
        time=now,
        shopid=message.ref.shop_id,
        customerid=message.ref.customer_id,
        data=data,
    )


def delivery_failed(
    message: SentMessage,
    *,
    phone: str,
    error_code: str | None,
    permanent: bool,
    sid: str,
    now: datetime,
) -> fb.SmsDeliveryFailedEvent:
    """`sms.delivery_failed` for feedback.events.v1: dispatch marks a permanent one's number
    unusable, triggers stop the customer's SMS journeys."""
    data = fb.SmsDeliveryFailed(
        phone=phone, error_code=error_code, permanent=permanent, message=message_ref(message)
    )
    envelope = _envelope(message.ref, STATUS, f"{sid}\x1fundelivered", now)
    return fb.SmsDeliveryFailedEvent(**envelope, data=data)
