"""What customers send back, as records of `feedback.events.v1`.

Written by the feedback service (inbound SMS, one-click unsubscribes, survey answers, provider
callbacks, bounces and complaints, suppressions an operator clears); read by triggers (opt-outs
stop journeys at once, answered reviews end the review request), dispatch (consent and
suppressions, honoured at send time), the segmenter (NPS, CSAT, engagement) and analysts.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import Field, TypeAdapter, model_validator

from shared.events.envelope import EventEnvelope
from shared.events.shop import Channel
from shared.events.types import VALIDATED_UPSTREAM, Email, Id, Model, PhoneE164

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
    email: Email | None = None
    phone: PhoneE164 | None = None
    message: MessageRef | None = None


CategoryId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
"""A shop's campaign category (`category:` in a campaign file, labelled in the shop's feedback
file): what a customer may keep or drop on the preference page."""


class CategoryPreference(Model):
    """The customer chose whether to hear about one of the shop's campaign categories.

    On every channel: it narrows marketing consent, never widens it (a category kept on a
    channel without marketing consent sends nothing there). A category never stated is kept.
    """

    category: CategoryId
    subscribed: bool
    source: Annotated[str, Field(min_length=1, max_length=100)]
    """How: `preference_center` so far."""
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
    """A CSAT (1-5) or NPS (0-10) answer, with optional free text and its tags.

    One answer counts per invitation: the message that asked (`message.message_id`, the
    message whose survey link was followed or whose SMS was answered with a bare number). A
    customer may answer again; the later answer replaces the earlier one. The rule every
    consumer applies (the segmenter, reports: services/feedback/surveys/scores.py):
    - a record whose envelope `id` was seen is a repeat of it (a double submit, a retried
      webhook): ignored;
    - among the records of one invitation, the one with the latest envelope `time` is the
      answer (equal times: the greater `id`); the others are superseded, never added up;
    - triggers need no such rule: any answer about the journey's order (`order_id`) ends its
      review request.
    """

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
    email: Email
    kind: BounceKind
    diagnostic: Annotated[str, Field(max_length=1000)] | None = None
    message: MessageRef | None = None


class ComplaintReceived(Model):
    """The recipient marked an email as spam: it suppresses the address like an opt-out."""

    email: Email
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

    email: Email
    scope: SuppressionScope
    reason: SuppressionReason
    detail: Annotated[str, Field(max_length=1000)] | None = None
    message: MessageRef | None = None


class AddressUnsuppressed(Model):
    """An operator cleared every suppression of this address in this shop (audited)."""

    email: Email
    actor: Annotated[str, Field(min_length=1, max_length=100)]
    """Who cleared it (`nudge contacts unsuppress --by`, the operator's login by default)."""
    reason: Annotated[str, Field(min_length=1, max_length=500)]
    """Why, as the operator gave it."""


class SmsDeliveryFailed(Model):
    phone: PhoneE164
    error_code: Annotated[str, Field(max_length=64)] | None = None
    permanent: bool
    message: MessageRef | None = None


class MachineReason(StrEnum):
    """Why an open or a click is taken for a machine's (services/feedback/tracking/machines.py)."""

    APPLE_PRIVACY_PROXY = "apple_privacy_proxy"
    """An open fetched by Apple Mail Privacy Protection's proxy (a user agent of exactly
    `Mozilla/5.0`): Apple fetches every pixel of every message, read or not."""
    LISTED_NETWORK = "listed_network"
    """From an address in `NUDGE_FEEDBACK_MACHINE_NETWORKS` (Apple's egress ranges, a
    scanner's)."""
    SCANNER = "scanner"
    """A user agent of a link scanner (Safe Links, Proofpoint, Mimecast, Barracuda...), a
    link preview (iMessage, Slack, WhatsApp...), a crawler or an HTTP library, or none."""
    HEAD_REQUEST = "head_request"
    """A HEAD request: a browser following a link sends GET."""
    TOO_SOON = "too_soon"
    """Within seconds of the email being sent: mail gateways scan on delivery, people are not
    that fast."""
    BURST = "burst"
    """Another link of the same message was clicked less than a second before: scanners
    follow every link at once, a person follows one."""


class Engagement(Model):
    """An open or click that the provider or the tracking link reported."""

    channel: Channel | None = None
    """The message's channel (opens: email); None for a click on a message the feedback
    service's index does not know (yet), which the token alone cannot tell."""
    message: MessageRef
    url: Annotated[str, Field(max_length=2048)] | None = None
    machine: bool = False
    """Made by a machine, not a person (Apple Mail Privacy Protection fetching every pixel, a
    link scanner following every link): recorded, but never engagement nor an attribution
    touch."""
    reason: MachineReason | None = None
    """Why it is taken for a machine's (the tracking links always say); only with `machine`."""

    @model_validator(mode="after")
    def _reason_only_for_machines(self) -> Engagement:
        if self.reason is not None and not self.machine:
            raise ValueError("a machine reason is given only when machine is true")
        return self


class ConsentWithdrawnEvent(EventEnvelope):
    type: Literal["consent.withdrawn"] = "consent.withdrawn"
    data: ConsentChange


class ConsentGrantedEvent(EventEnvelope):
    type: Literal["consent.granted"] = "consent.granted"
    data: ConsentChange


class CategoryPreferenceEvent(EventEnvelope):
    type: Literal["category.preference_changed"] = "category.preference_changed"
    data: CategoryPreference


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
    | CategoryPreferenceEvent
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


def parse_feedback_event_validated_upstream(raw: bytes | str) -> FeedbackEvent:
    """Parse a record the feedback service wrote (and so validated) for the stream workers:
    emails and phone numbers get a shape check only (`VALIDATED_UPSTREAM`), the rest the full
    rules, so a malformed record is still refused with its reason."""
    return FEEDBACK_EVENT.validate_json(raw, context=VALIDATED_UPSTREAM)
