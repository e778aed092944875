"""What reports count, as pure functions: one parsed record in, the facts it states out.

A `Fact` is one thing counted once: its `subject` (a message id, an order id, `event:<id>`) is
unique per shop and metric, so a record read again, or a message opened again, adds nothing. An
`Answer` is a survey answer (the latest per invitation counts); `ReplyTags` the tags of one
reply. The package docstring has the rules and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Final

from services.feedback.surveys.scores import scored
from shared.events import FeedbackEvent, MessageEvent
from shared.events import feedback as fb
from shared.events import messages as ms
from shared.events.conversions import ConversionAttributedEvent
from shared.events.feedback import SurveyKind
from shared.events.shop import Channel
from shared.events.types import Money

UNATTRIBUTED: Final = "unattributed"
"""The campaign of what no campaign can be found for."""


class Metric(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    FAILED = "failed"
    OPENED = "opened"
    CLICKED = "clicked"
    MACHINE_OPENED = "machine_opened"
    MACHINE_CLICKED = "machine_clicked"
    REPLIED = "replied"
    UNSUBSCRIBED = "unsubscribed"
    COMPLAINED = "complained"
    CONVERTED = "converted"


def day_of(at: datetime) -> date:
    """The UTC day a time falls on (reports are in UTC days)."""
    return at.astimezone(UTC).date()


@dataclass(frozen=True, slots=True)
class Fact:
    shop_id: str
    metric: Metric
    subject: str
    """What is counted once per shop and metric: a message id, an order id, `event:<id>`."""
    day: date
    campaign_id: str | None
    """None: to be found from `message_id` (consumer.py), else `unattributed`."""
    message_id: str | None = None
    revenue: Money | None = None
    """A conversion's revenue."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A survey answer; per shop and invitation only the latest (time, then event id) counts."""

    shop_id: str
    invitation: str
    survey: SurveyKind
    score: int
    at: datetime
    event_id: str
    tags: tuple[str, ...]
    campaign_id: str | None
    message_id: str | None = None

    @property
    def day(self) -> date:
        return day_of(self.at)


@dataclass(frozen=True, slots=True)
class ReplyTags:
    """The tags of one reply (replies without tags are counted, not kept)."""

    shop_id: str
    event_id: str
    day: date
    tags: tuple[str, ...]
    campaign_id: str | None
    message_id: str | None = None


Observation = Fact | Answer | ReplyTags

_PER_MESSAGE: Final[dict[type[object], Metric]] = {
    ms.MessageSentEvent: Metric.SENT,
    ms.MessageDeliveredEvent: Metric.DELIVERED,
    ms.MessageUndeliveredEvent: Metric.BOUNCED,
    ms.MessageFailedEvent: Metric.FAILED,
}
_PER_ANSWERED: Final[dict[type[object], Metric]] = {
    fb.ReplyReceivedEvent: Metric.REPLIED,
    fb.ConsentWithdrawnEvent: Metric.UNSUBSCRIBED,
    fb.ComplaintReceivedEvent: Metric.COMPLAINED,
}
"""Counted per message they answer, or per event when they name none."""
_STATUSES: Final = (
    ms.MessageSentEvent,
    ms.MessageDeliveredEvent,
    ms.MessageUndeliveredEvent,
    ms.MessageFailedEvent,
)
WANTED_TYPES: Final = frozenset(
    {
        "message.sent",
        "message.delivered",
        "message.undelivered",
        "message.failed",
        "email.bounced",
        "message.opened",
        "message.clicked",
        "reply.received",
        "consent.withdrawn",
        "complaint.received",
        "survey.answered",
        "conversion.attributed",
    }
)
"""The record types reports read; the others are not parsed in full."""


def observe(event: MessageEvent | FeedbackEvent | ConversionAttributedEvent) -> list[Observation]:
    """What one record states for reports (nothing for most types)."""
    shop, day = event.shopid, day_of(event.time)
    if isinstance(event, _STATUSES):
        update = event.data
        metric = _PER_MESSAGE[type(event)]
        message_id, campaign = update.message_id, update.campaign_id
        fact = Fact(shop, metric, message_id, day, campaign, message_id)
        if isinstance(event, ms.MessageSentEvent) and update.channel is Channel.EMAIL:
            return [fact, Fact(shop, Metric.DELIVERED, message_id, day, campaign, message_id)]
        return [fact]
    if isinstance(event, fb.EmailBouncedEvent):
        message = event.data.message
        if message is None or message.message_id is None:
            return []  # not about a message of this shop (rules.py names the shop's own)
        return [Fact(shop, Metric.BOUNCED, message.message_id, day, *_campaign(message))]
    if isinstance(event, fb.MessageOpenedEvent | fb.MessageClickedEvent):
        return _engagement(event, shop, day)
    if isinstance(
        event, fb.ReplyReceivedEvent | fb.ConsentWithdrawnEvent | fb.ComplaintReceivedEvent
    ):
        return _answered(event, _PER_ANSWERED[type(event)], shop, day)
    if isinstance(event, fb.SurveyAnsweredEvent):
        answer = scored(event)
        ref = event.data.message
        return [
            Answer(
                shop,
                answer.invitation,
                answer.survey,
                answer.score,
                answer.at,
                answer.event_id,
                tuple(event.data.tags),
                *_campaign(ref),
            )
        ]
    if isinstance(event, ConversionAttributedEvent):
        data = event.data
        credited = data.message
        return [
            Fact(
                shop,
                Metric.CONVERTED,
                data.order_id,
                day,
                credited.campaign_id,
                credited.message_id,
                data.revenue,
            )
        ]
    return []


def _campaign(ref: fb.MessageRef | None) -> tuple[str | None, str | None]:
    """(campaign id, message id) a feedback record's message reference gives."""
    if ref is None:
        return None, None
    return ref.campaign_id, ref.message_id


def _engagement(
    event: fb.MessageOpenedEvent | fb.MessageClickedEvent, shop: str, day: date
) -> list[Observation]:
    engagement = event.data
    message_id = engagement.message.message_id
    if message_id is None:
        return []
    opened = isinstance(event, fb.MessageOpenedEvent)
    if engagement.machine:
        metric = Metric.MACHINE_OPENED if opened else Metric.MACHINE_CLICKED
    else:
        metric = Metric.OPENED if opened else Metric.CLICKED
    return [Fact(shop, metric, message_id, day, *_campaign(engagement.message))]


def _answered(
    event: fb.ReplyReceivedEvent | fb.ConsentWithdrawnEvent | fb.ComplaintReceivedEvent,
    metric: Metric,
    shop: str,
    day: date,
) -> list[Observation]:
    campaign, message_id = _campaign(event.data.message)
    subject = message_id if message_id is not None else f"event:{event.id}"
    found: list[Observation] = [Fact(shop, metric, subject, day, campaign, message_id)]
    if isinstance(event, fb.ReplyReceivedEvent) and event.data.tags:
        tags = tuple(event.data.tags)
        found.append(ReplyTags(shop, event.id, day, tags, campaign, message_id))
    return found
