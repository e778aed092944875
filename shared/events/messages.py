"""Each message's status changes, as records of `messages.status.v1`.

Written by dispatch (queued, deferred, skipped, sent, failed) and by feedback (delivered,
undelivered: what the provider reported after it took the message, from Twilio's status
callbacks). The feed analysts and the feedback service use: every record names the
trigger, campaign, step, variant and channel, so conversions can be attributed to a message.
The envelope id is derived from the message id and the status (and attempt), so re-publishing
the same change after a restart carries the same id.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import Field, TypeAdapter

from shared.events.envelope import EventEnvelope
from shared.events.name_ids import NameIds
from shared.events.shop import Channel
from shared.events.types import Id, Model, Timestamp

_MESSAGE_IDS = NameIds(uuid.UUID("5b0e1d5c-7a43-4c77-9f0e-2f7b3c1d9a61"))


def message_id(trigger_id: str, channel: str) -> str:
    """The one message a trigger may produce on a channel: the unique key of a send."""
    return _MESSAGE_IDS(f"{trigger_id}\x1f{channel}")


class MessageStatus(StrEnum):
    QUEUED = "queued"
    DEFERRED = "deferred"
    SKIPPED = "skipped"
    SENT = "sent"
    FAILED = "failed"


class SkipReason(StrEnum):
    NO_CONSENT = "no_consent"
    """Marketing consent on the channel was never given (or the shop reports it denied)."""
    OPTED_OUT = "opted_out"
    """The customer withdrew marketing consent on the channel (an SMS STOP, a one-click
    unsubscribe, a complaint, an opt-out the provider reported)."""
    SUPPRESSED = "suppressed"
    NO_ADDRESS = "no_address"
    FREQUENCY_CAP = "frequency_cap"
    RENDER_ERROR = "render_error"
    EXPIRED = "expired"
    NO_CHANNEL = "no_channel"


class MessageUpdate(Model):
    message_id: Id
    trigger_id: Id
    campaign_id: Annotated[str, Field(max_length=64)]
    step_id: Annotated[str, Field(max_length=64)]
    variant: Annotated[str, Field(max_length=32)] | None = None
    channel: Channel | None = None
    """None only when no channel could be chosen at all (skipped: no_channel)."""
    transactional: bool
    status: MessageStatus
    reason: Annotated[str, Field(max_length=1000)] | None = None
    """Why it was skipped, deferred or failed (`no_consent`, `frequency_cap`, `quiet_hours`...)."""
    until: Timestamp | None = None
    """For deferred messages: when the next attempt is due."""
    provider_id: Annotated[str, Field(max_length=255)] | None = None
    """For sent messages: the SMTP server's answer or the SMS provider's message id."""
    attempt: Annotated[int, Field(ge=0)] = 0
    template_id: Annotated[str, Field(max_length=128)] | None = None
    locale: Annotated[str, Field(max_length=35)] | None = None


class MessageQueuedEvent(EventEnvelope):
    type: Literal["message.queued"] = "message.queued"
    data: MessageUpdate


class MessageDeferredEvent(EventEnvelope):
    type: Literal["message.deferred"] = "message.deferred"
    data: MessageUpdate


class MessageSkippedEvent(EventEnvelope):
    type: Literal["message.skipped"] = "message.skipped"
    data: MessageUpdate


class MessageSentEvent(EventEnvelope):
    type: Literal["message.sent"] = "message.sent"
    data: MessageUpdate


class MessageFailedEvent(EventEnvelope):
    type: Literal["message.failed"] = "message.failed"
    data: MessageUpdate


STATUS_EVENTS: Final[dict[MessageStatus, type[EventEnvelope]]] = {
    MessageStatus.QUEUED: MessageQueuedEvent,
    MessageStatus.DEFERRED: MessageDeferredEvent,
    MessageStatus.SKIPPED: MessageSkippedEvent,
    MessageStatus.SENT: MessageSentEvent,
    MessageStatus.FAILED: MessageFailedEvent,
}


class DeliveryStatus(StrEnum):
    DELIVERED = "delivered"
    """The provider reports the message delivered to the handset (or read)."""
    UNDELIVERED = "undelivered"
    """The provider took the message but could not deliver it (Twilio: undelivered, failed)."""


class MessageDelivery(Model):
    """What the provider reported about a message after it took it (SMS status callbacks).

    Written by the feedback service, which knows the message from dispatch's `message.sent`
    (by the provider's id); the step and variant are on that record, under the same
    `message_id`.
    """

    message_id: Id
    trigger_id: Id
    campaign_id: Annotated[str, Field(max_length=64)]
    channel: Channel
    transactional: bool
    status: DeliveryStatus
    provider_id: Annotated[str, Field(min_length=1, max_length=255)]
    provider_status: Annotated[str, Field(min_length=1, max_length=32)]
    """The provider's own word (Twilio: delivered, read, undelivered, failed)."""
    error_code: Annotated[str, Field(max_length=64)] | None = None
    permanent: bool | None = None
    """For undelivered messages: whether the error condemns the address (an invalid or
    unreachable number) rather than this attempt; None when delivered."""


class MessageDeliveredEvent(EventEnvelope):
    type: Literal["message.delivered"] = "message.delivered"
    data: MessageDelivery


class MessageUndeliveredEvent(EventEnvelope):
    type: Literal["message.undelivered"] = "message.undelivered"
    data: MessageDelivery


def delivery_event_id(message_id: str, status: DeliveryStatus) -> str:
    """One id per message and outcome: a callback Twilio sends again, or `read` after
    `delivered`, says the same fact again under the same id."""
    return _MESSAGE_IDS(f"{message_id}\x1fprovider\x1f{status}")


MessageEvent = Annotated[
    MessageQueuedEvent
    | MessageDeferredEvent
    | MessageSkippedEvent
    | MessageSentEvent
    | MessageFailedEvent
    | MessageDeliveredEvent
    | MessageUndeliveredEvent,
    Field(discriminator="type"),
]

MESSAGE_EVENT: Final[TypeAdapter[MessageEvent]] = TypeAdapter(MessageEvent)


def parse_message_event(raw: bytes | str) -> MessageEvent:
    """Parse one record value of `messages.status.v1`; raises pydantic.ValidationError."""
    return MESSAGE_EVENT.validate_json(raw)


TERMINAL_STATUSES: Final = frozenset(
    {MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.SKIPPED}
)


def status_event_id(update: MessageUpdate) -> str:
    """Deterministic, so that a status said again (dispatch publishes before it commits, and
    says it again after a crash in between) has the same id: a message ends once, so its
    terminal status has one id whatever the attempt; a deferral or a re-queue is per attempt."""
    if update.status in TERMINAL_STATUSES:
        name = f"{update.message_id}\x1f{update.status}"
    else:
        name = f"{update.message_id}\x1f{update.status}\x1f{update.attempt}"
    return _MESSAGE_IDS(name)
