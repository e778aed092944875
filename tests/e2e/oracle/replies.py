"""Customers answering what they received, as the services see it on feedback.events.v1.

The answers themselves come from a `replies_to`-shaped callable (the simulator's
services/simulator/replies.py, which its inbox plays from the sinks); this module turns
each into the feedback event the feedback service publishes for it: a STOP withdraws SMS
marketing consent, an unsubscribe email marketing consent, a survey answer ends the review
request of its order, a click is engagement (the fallback rule "unless opened / clicked").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from services.simulator.population import Customer
from services.simulator.replies import nps_score, replies_to
from shared.events import FeedbackEvent
from shared.events import feedback as fb
from shared.events.shop import Channel

SOURCE = "/oracle/replies"


class ReplyLike(Protocol):
    """services.simulator.replies.Reply: kind (click, survey, stop, unsubscribe), delay
    after the message went out, and the survey score."""

    @property
    def kind(self) -> Any: ...
    @property
    def delay(self) -> timedelta: ...
    @property
    def score(self) -> int | None: ...


RepliesTo = Callable[..., tuple[ReplyLike, ...]]
"""`replies_to(customer, message_id, channel, *, survey: bool, links: bool)`."""


def no_replies(
    customer: Customer, message_id: str, channel: str, *, survey: bool, links: bool
) -> tuple[ReplyLike, ...]:
    """Nobody answers (for tests that leave replies out)."""
    return ()


def simulator_replies() -> RepliesTo:
    """The simulator's `replies_to`: the answers its inbox plays from the sinks."""
    found: RepliesTo = replies_to
    return found


@dataclass(frozen=True)
class Sent:
    """A message the oracle expects to go out, as much of it as an answer needs."""

    shop_id: str
    customer_id: str
    message_id: str
    trigger_id: str
    campaign_id: str
    channel: Channel
    order_id: str | None
    survey: str | None
    transactional: bool


def kind_of(reply: ReplyLike) -> str:
    kind = reply.kind
    return str(getattr(kind, "value", kind))


def feedback_event(sent: Sent, reply: ReplyLike, at: datetime) -> FeedbackEvent | None:
    """The event the feedback service publishes for `reply` to `sent`, or None."""
    kind = kind_of(reply)
    ref = fb.MessageRef(
        message_id=sent.message_id, trigger_id=sent.trigger_id, campaign_id=sent.campaign_id
    )
    envelope: dict[str, Any] = {
        "id": _event_id(sent.message_id, kind),
        "source": SOURCE,
        "time": at,
        "shopid": sent.shop_id,
        "customerid": sent.customer_id,
    }
    if kind == "click":
        return fb.MessageClickedEvent(
            **envelope, data=fb.Engagement(channel=sent.channel, message=ref)
        )
    if kind == "stop":
        data = fb.ConsentChange(channel=Channel.SMS, source="sms_keyword", message=ref)
        return fb.ConsentWithdrawnEvent(**envelope, data=data)
    if kind == "unsubscribe":
        if sent.transactional:
            return None  # no one-click header on a transactional email: nothing to press
        data = fb.ConsentChange(channel=sent.channel, source="one_click", message=ref)
        return fb.ConsentWithdrawnEvent(**envelope, data=data)
    if kind == "survey" and reply.score is not None:
        survey = fb.SurveyKind(sent.survey or "csat")
        score = nps_score(reply.score) if survey is fb.SurveyKind.NPS else reply.score
        answer = fb.SurveyAnswered(survey=survey, score=score, order_id=sent.order_id, message=ref)
        return fb.SurveyAnsweredEvent(**envelope, data=answer)
    return None


def _event_id(message_id: str, kind: str) -> str:
    return "oracle-" + hashlib.sha256(f"{message_id}:{kind}".encode()).hexdigest()[:32]
