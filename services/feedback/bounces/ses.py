"""The Amazon SES notification inside an SNS message: bounces, complaints, deliveries.

SES's "notifications" name their kind in `notificationType`, its event publishing in
`eventType`; both carry the same `bounce`, `complaint` and `mail` objects. Fields SES adds are
accepted and not used. What Nudge needs: the kind, the bounce type, each recipient's address
(and diagnostic), when it happened, and the ids that lead back to the message Nudge sent:
the Message-ID header (`mail.commonHeaders.messageId`, or `mail.headers`), whose local part is
dispatch's message id, and SES's own `mail.messageId`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Self

import msgspec
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, model_validator

from services.feedback.bounces.sns import field_errors
from shared.events.types import Timestamp
from shared.http.body import nul_field

MAX_RECIPIENTS = 50
"""SES sends one message to at most 50 recipients."""
MAX_IDS = 4


class SesInvalid(Exception):
    """The SNS Message is not a usable SES notification: (field, reason) pairs."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in errors))
        self.errors = errors


class Kind(StrEnum):
    BOUNCE = "Bounce"
    COMPLAINT = "Complaint"
    DELIVERY = "Delivery"


_KINDS = frozenset(k.value for k in Kind)


class BounceType(StrEnum):
    PERMANENT = "Permanent"
    TRANSIENT = "Transient"
    UNDETERMINED = "Undetermined"


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)


class _BouncedRecipient(_Part):
    email_address: EmailStr = Field(alias="emailAddress")
    diagnostic_code: Annotated[str, Field(max_length=10_000)] | None = Field(
        default=None, alias="diagnosticCode"
    )
    status: Annotated[str, Field(max_length=32)] | None = None


class _Bounce(_Part):
    bounce_type: BounceType = Field(alias="bounceType")
    bounce_sub_type: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, alias="bounceSubType"
    )
    bounced_recipients: Annotated[
        list[_BouncedRecipient], Field(min_length=1, max_length=MAX_RECIPIENTS)
    ] = Field(alias="bouncedRecipients")
    timestamp: Timestamp | None = None


class _ComplainedRecipient(_Part):
    email_address: EmailStr = Field(alias="emailAddress")


class _Complaint(_Part):
    complained_recipients: Annotated[
        list[_ComplainedRecipient], Field(min_length=1, max_length=MAX_RECIPIENTS)
    ] = Field(alias="complainedRecipients")
    complaint_feedback_type: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, alias="complaintFeedbackType"
    )
    timestamp: Timestamp | None = None


class _Header(_Part):
    name: Annotated[str, Field(max_length=1000)]
    value: Annotated[str, Field(max_length=10_000)]


class _CommonHeaders(_Part):
    message_id: Annotated[str, Field(max_length=1000)] | None = Field(
        default=None, alias="messageId"
    )


class _Mail(_Part):
    message_id: Annotated[str, Field(max_length=1000)] | None = Field(
        default=None, alias="messageId"
    )
    headers: Annotated[list[_Header], Field(max_length=500)] = Field(default_factory=list)
    common_headers: _CommonHeaders | None = Field(default=None, alias="commonHeaders")


class _Notification(_Part):
    notification_type: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, alias="notificationType"
    )
    event_type: Annotated[str, Field(max_length=64)] | None = Field(default=None, alias="eventType")
    bounce: _Bounce | None = None
    complaint: _Complaint | None = None
    mail: _Mail | None = None

    @model_validator(mode="after")
    def _kind_has_its_object(self) -> Self:
        kind = self.notification_type or self.event_type
        if kind is None:
            raise ValueError("notificationType (or eventType) is required")
        if kind == Kind.BOUNCE and self.bounce is None:
            raise ValueError("a Bounce notification needs its bounce object")
        if kind == Kind.COMPLAINT and self.complaint is None:
            raise ValueError("a Complaint notification needs its complaint object")
        return self


@dataclass(frozen=True, slots=True)
class Recipient:
    email: str
    diagnostic: str | None = None


@dataclass(frozen=True, slots=True)
class SesNotification:
    kind: Kind | None
    """None for kinds Nudge does not act on (Send, Reject, Open, Click...)."""
    kind_name: str
    recipients: tuple[Recipient, ...]
    bounce_type: BounceType | None
    happened_at: datetime | None
    message_ids: tuple[str, ...]
    """Candidates for dispatch's message id, most telling first."""


def parse_notification(text: str) -> SesNotification:
    """The SES notification in an SNS Message, or SesInvalid naming the fields (`Message.`...)."""
    try:
        document: Any = msgspec.json.decode(text)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise SesInvalid([("Message", f"is not JSON: {exc}")]) from None
    if not isinstance(document, dict):
        raise SesInvalid([("Message", "is not a JSON object")])
    if (where := nul_field(document)) is not None:
        raise SesInvalid([(f"Message.{where}", "contains a NUL character")])
    try:
        parsed = _Notification.model_validate(document)
    except ValidationError as exc:
        raise SesInvalid(field_errors(exc, "Message")) from None
    name = parsed.notification_type or parsed.event_type or ""
    kind = Kind(name) if name in _KINDS else None
    recipients: tuple[Recipient, ...] = ()
    bounce_type = None
    happened_at = None
    if kind is Kind.BOUNCE and parsed.bounce is not None:
        bounce = parsed.bounce
        bounce_type = bounce.bounce_type
        happened_at = bounce.timestamp
        recipients = tuple(
            Recipient(str(r.email_address), _diagnostic(r, bounce.bounce_sub_type))
            for r in bounce.bounced_recipients
        )
    elif kind is Kind.COMPLAINT and parsed.complaint is not None:
        happened_at = parsed.complaint.timestamp
        recipients = tuple(
            Recipient(str(r.email_address)) for r in parsed.complaint.complained_recipients
        )
    return SesNotification(
        kind, name, recipients, bounce_type, happened_at, _message_ids(parsed.mail)
    )


def _diagnostic(recipient: _BouncedRecipient, sub_type: str | None) -> str | None:
    parts = [p for p in (sub_type, recipient.status, recipient.diagnostic_code) if p]
    return "; ".join(parts)[:1000] or None


def _message_ids(mail: _Mail | None) -> tuple[str, ...]:
    if mail is None:
        return ()
    raw = [mail.common_headers.message_id if mail.common_headers else None]
    raw += [h.value for h in mail.headers if h.name.lower() == "message-id"]
    raw.append(mail.message_id)
    found: list[str] = []
    for value in raw:
        local = message_id_local_part(value)
        if local is not None and local not in found:
            found.append(local)
    return tuple(found[:MAX_IDS])


def message_id_local_part(value: str | None) -> str | None:
    """`<local@domain>` → `local` (the id dispatch put there); a bare id as it is."""
    if not value:
        return None
    bare = value.strip().removeprefix("<").removesuffix(">")
    local = bare.split("@", 1)[0]
    if not local or len(local) > 255 or not local.isascii() or not local.isprintable():
        return None
    return local
