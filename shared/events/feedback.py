"""What customers send back, as records of `feedback.events.v1`.

Written by the feedback service (inbound SMS, one-click unsubscribes, survey answers, provider
callbacks, bounces and complaints, suppressions an operator clears); read by triggers (opt-outs
stop journeys at once, answered reviews end the review request), dispatch (consent and
suppressions, honoured at send time), the segmenter (NPS, CSAT, engagement) and analysts.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import EmailStr, Field, TypeAdapter, model_validator

from shared.events.envelope import EventEnvelope
from shared.events.shop import Channel
from shared.events.types import Id, Model, PhoneE164

Tag = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]*$")]
Tags = Annotated[list[Tag], Field(max_length=20)]
FreeText = Annotated[str, Field(max_length=5000)]


class MessageRef(Model):
    """The message a piece of feedback answers, when it is known."""

    message_id: Id | None = None
    trigger_id: Id | None = None
    campaign_id: Id | None = None


class ConsentChange(Model):
    """The customer withdrew or gave marketing consent on one channel."""

    channel: Channel
    source: Annotated[str, Field(min_length=1, max_length=100)]
    """How: `sms_keyword` (STOP/START), `one_click`, `mailto`, `complaint`, `preference_center`."""
    email: EmailStr | None = None
    phone: PhoneE164 | None = None
    message: MessageRef | None = None


class ReplyReceived(Model):
    """A free-text answer to a message (an SMS reply or an email reply)."""

    channel: Channel
    text: FreeText
    tags: Tags = Field(default_factory=list)
    message: MessageRef | None = None


class SurveyKind(StrEnum):
    CSAT = "csat"
    NPS = "nps"


class SurveyAnswered(Model):
    """A CSAT (1-5) or NPS (0-10) answer, with optional free text and its tags."""

    survey: SurveyKind
    score: Annotated[int, Field(ge=0, le=10)]
    comment: FreeText | None = None
    tags: Tags = Field(default_factory=list)
    order_id: Id | None = None
    """The order the survey asked about (review requests are per delivered order)."""
    message: MessageRef | None = None

    @model_validator(mode="after")
    def _score_in_scale(self) -> SurveyAnswered:
        if self.survey is SurveyKind.CSAT and not 1 <= self.score <= 5:
            raise ValueError("a CSAT score is between 1 and 5")
        return self


class BounceKind(StrEnum):
    HARD = "hard"
    SOFT = "soft"


class EmailBounced(Model):
    email: EmailStr
    kind: BounceKind
    diagnostic: Annotated[str, Field(max_length=1000)] | None = None
    message: MessageRef | None = None


class ComplaintReceived(Model):
    """The recipient marked an email as spam: it suppresses the address like an opt-out."""

    email: EmailStr
    message: MessageRef | None = None


class SuppressionScope(StrEnum):
    ALL = "all"
    """No email of any kind (the mailbox does not take mail)."""
    MARKETING = "marketing"
    """No marketing email; transactional mail (orders, deliveries) still goes out."""


class SuppressionReason(StrEnum):
    HARD_BOUNCE = "hard_bounce"
    COMPLAINT = "complaint"
    SOFT_BOUNCES = "soft_bounces"
    """Too many transient bounces within the configured window."""


class AddressSuppressed(Model):
    """An email address of this shop is suppressed until an operator clears it.

    A hard bounce (`email.bounced`, kind hard) and a complaint (`complaint.received`) suppress
    by themselves; this event says so for what has no event of its own, such as repeated
    transient bounces.
    """

    email: EmailStr
    scope: SuppressionScope
    reason: SuppressionReason
    detail: Annotated[str, Field(max_length=1000)] | None = None
    message: MessageRef | None = None


class AddressUnsuppressed(Model):
    """An operator cleared every suppression of this address in this shop (audited)."""

    email: EmailStr
    actor: Annotated[str, Field(min_length=1, max_length=100)]
    """Who cleared it (`nudge contacts unsuppress --by`, the operator's login by default)."""
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    """Why, as the operator gave it."""


class SmsDeliveryFailed(Model):
    phone: PhoneE164
    error_code: Annotated[str, Field(max_length=64)] | None = None
    permanent: bool
    message: MessageRef | None = None


class Engagement(Model):
    """An open or click that the provider or the tracking link reported."""

    channel: Channel
    message: MessageRef
    url: Annotated[str, Field(max_length=2048)] | None = None


class ConsentWithdrawnEvent(EventEnvelope):
    type: Literal["consent.withdrawn"] = "consent.withdrawn"
    data: ConsentChange


class ConsentGrantedEvent(EventEnvelope):
    type: Literal["consent.granted"] = "consent.granted"
    data: ConsentChange


class ReplyReceivedEvent(EventEnvelope):
    type: Literal["reply.received"] = "reply.received"
    data: ReplyReceived


class SurveyAnsweredEvent(EventEnvelope):
    type: Literal["survey.answered"] = "survey.answered"
    data: SurveyAnswered


class EmailBouncedEvent(EventEnvelope):
    type: Literal["email.bounced"] = "email.bounced"
    data: EmailBounced


class ComplaintReceivedEvent(EventEnvelope):
    type: Literal["complaint.received"] = "complaint.received"
    data: ComplaintReceived


class SmsDeliveryFailedEvent(EventEnvelope):
    type: Literal["sms.delivery_failed"] = "sms.delivery_failed"
    data: SmsDeliveryFailed


class AddressSuppressedEvent(EventEnvelope):
    type: Literal["address.suppressed"] = "address.suppressed"
    data: AddressSuppressed


class AddressUnsuppressedEvent(EventEnvelope):
    type: Literal["address.unsuppressed"] = "address.unsuppressed"
    data: AddressUnsuppressed


class MessageOpenedEvent(EventEnvelope):
    type: Literal["message.opened"] = "message.opened"
    data: Engagement


class MessageClickedEvent(EventEnvelope):
    type: Literal["message.clicked"] = "message.clicked"
    data: Engagement


FeedbackEvent = Annotated[
    ConsentWithdrawnEvent
    | ConsentGrantedEvent
    | ReplyReceivedEvent
    | SurveyAnsweredEvent
    | EmailBouncedEvent
    | ComplaintReceivedEvent
    | SmsDeliveryFailedEvent
    | AddressSuppressedEvent
    | AddressUnsuppressedEvent
    | MessageOpenedEvent
    | MessageClickedEvent,
    Field(discriminator="type"),
]

FEEDBACK_EVENT: Final[TypeAdapter[FeedbackEvent]] = TypeAdapter(FeedbackEvent)


def parse_feedback_event(raw: bytes | str) -> FeedbackEvent:
    """Parse one record value of `feedback.events.v1`; raises pydantic.ValidationError."""
    return FEEDBACK_EVENT.validate_json(raw)
