"""Which contacts a bounce or complaint concerns, and the events that say so: pure decisions.

- A hard bounce is about the mailbox: it does not exist for anyone. It concerns the customer of
  the message it answers and every contact, of every shop, with that address.
- A complaint is about one shop's mail: it concerns the customer of the message only. Without
  the message (SES left the headers out, or the message is unknown), it concerns the contacts
  with that address when they all belong to one shop, and nobody when several shops share the
  address: another shop's customer did not complain about that shop's mail.
- A transient bounce is about one delivery: it concerns the customer of the message, else every
  contact with the address. It is counted per shop and address; the `limit`-th within the
  window suppresses the address in that shop.

Every event id is derived from the SNS MessageId, the recipient and the customer, so a
notification SNS delivers again publishes the same events, which consumers drop.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.feedback.directory import Contact, ContactRef, SentMessage
from shared.events import EventEnvelope, derived_event_id
from shared.events import feedback as fb
from shared.events.shop import Channel

SOURCE = "/shops/{shop_id}/feedback/ses"


@dataclass(frozen=True, slots=True)
class Notice:
    """What one SNS notification says about one recipient."""

    notification_id: str
    """SNS's MessageId: the same on every delivery of the notification."""
    email: str
    """The recipient's address as SES gave it."""
    at: datetime
    diagnostic: str | None = None
    message: SentMessage | None = None
    """The email it answers, when the directory knows it."""

    @property
    def address(self) -> str:
        return self.email.lower()


def answered(message: SentMessage | None) -> SentMessage | None:
    """The message, when it is an email (an SMS id cannot be what a mail server bounced)."""
    return message if message is not None and message.channel is Channel.EMAIL else None


def mailbox_targets(notice: Notice, contacts: Sequence[Contact]) -> list[ContactRef]:
    """Hard bounces: the message's customer and every contact with the address, any shop."""
    refs = [notice.message.ref] if notice.message is not None else []
    refs += [c.ref for c in contacts if c.email is not None and c.email.lower() == notice.address]
    return _unique(refs)


def delivery_targets(notice: Notice, contacts: Sequence[Contact]) -> list[ContactRef]:
    """Transient bounces: the message's customer, else every contact with the address."""
    if notice.message is not None:
        return [notice.message.ref]
    return mailbox_targets(notice, contacts)


def complaint_targets(notice: Notice, contacts: Sequence[Contact]) -> list[ContactRef]:
    """Complaints: the message's customer; else the address's contacts if of one shop only."""
    if notice.message is not None:
        return [notice.message.ref]
    refs = mailbox_targets(notice, contacts)
    return refs if len({r.shop_id for r in refs}) == 1 else []


def _unique(refs: Sequence[ContactRef]) -> list[ContactRef]:
    return list(dict.fromkeys(refs))


def _event_id(ref: ContactRef, notice: Notice, what: str) -> str:
    origin_id = f"{notice.notification_id}\x1f{notice.address}\x1f{ref.customer_id}"
    return derived_event_id(ref.shop_id, f"ses-{what}", origin_id)


def _message_ref(ref: ContactRef, notice: Notice) -> fb.MessageRef | None:
    message = notice.message
    if message is None or message.ref != ref:
        return None
    return fb.MessageRef(
        message_id=message.message_id,
        trigger_id=message.trigger_id,
        campaign_id=message.campaign_id,
    )


def bounced(ref: ContactRef, notice: Notice, kind: fb.BounceKind) -> fb.EmailBouncedEvent:
    data = fb.EmailBounced(
        email=notice.email,
        kind=kind,
        diagnostic=notice.diagnostic,
        message=_message_ref(ref, notice),
    )
    return fb.EmailBouncedEvent(
        id=_event_id(ref, notice, f"bounce-{kind}"),
        source=SOURCE.format(shop_id=ref.shop_id),
        time=notice.at,
        shopid=ref.shop_id,
        customerid=ref.customer_id,
        data=data,
    )


def complained(ref: ContactRef, notice: Notice) -> fb.ComplaintReceivedEvent:
    data = fb.ComplaintReceived(email=notice.email, message=_message_ref(ref, notice))
    return fb.ComplaintReceivedEvent(
        id=_event_id(ref, notice, "complaint"),
        source=SOURCE.format(shop_id=ref.shop_id),
        time=notice.at,
        shopid=ref.shop_id,
        customerid=ref.customer_id,
        data=data,
    )


def suppressed(
    ref: ContactRef, notice: Notice, count: int, window_h: float
) -> fb.AddressSuppressedEvent:
    """The address suppressed for repeated transient bounces, `notice` the one that tipped it."""
    detail = f"{count} transient bounces in {window_h:g} h; last: {notice.diagnostic or '-'}"
    data = fb.AddressSuppressed(
        email=notice.email,
        scope=fb.SuppressionScope.ALL,
        reason=fb.SuppressionReason.SOFT_BOUNCES,
        detail=detail[:1000],
        message=_message_ref(ref, notice),
    )
    return fb.AddressSuppressedEvent(
        id=_event_id(ref, notice, "soft-suppressed"),
        source=SOURCE.format(shop_id=ref.shop_id),
        time=notice.at,
        shopid=ref.shop_id,
        customerid=ref.customer_id,
        data=data,
    )


SUPPRESSING: dict[type[EventEnvelope], tuple[fb.SuppressionScope, fb.SuppressionReason]] = {
    fb.ComplaintReceivedEvent: (fb.SuppressionScope.MARKETING, fb.SuppressionReason.COMPLAINT),
    fb.AddressSuppressedEvent: (fb.SuppressionScope.ALL, fb.SuppressionReason.SOFT_BOUNCES),
}
"""What each published event suppresses, besides a hard `email.bounced` (all email)."""


def suppression_of(
    event: EventEnvelope,
) -> tuple[fb.SuppressionScope, fb.SuppressionReason] | None:
    """The scope and reason an event suppresses its address for, or None."""
    if isinstance(event, fb.EmailBouncedEvent):
        if event.data.kind is fb.BounceKind.HARD:
            return fb.SuppressionScope.ALL, fb.SuppressionReason.HARD_BOUNCE
        return None
    return SUPPRESSING.get(type(event))
