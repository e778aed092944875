"""A survey answer as a `survey.answered` record, with an id that makes a repeat harmless.

One answer counts per invitation (the message that asked); a later answer replaces an earlier
one (the rule consumers apply is on `SurveyAnswered`, shared/events/feedback.py). Ids:

- on the page: from the invitation's message, the form's nonce (one per page shown) and the
  answer itself. Submitting one form twice (a double click, a refresh that posts again, a
  retry after a 503) is one event; answering again, on the page shown again, is a new event
  that supersedes the first, even when it says what an earlier one said (A, then B, then A
  again must end on A, which an id from the content alone would drop as a duplicate);
- by SMS: from the text's MessageSid, as every inbound text's records (Twilio's retries of one
  webhook are one event), under an origin of its own: a text first read as a reply (the
  index did not know yet that its SMS asked for a survey) and then, on Twilio's retry, as an
  answer publishes both, never an answer dropped as the reply's duplicate.

The event's time is now: "latest" is by it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from pydantic import TypeAdapter, ValidationError

from services.feedback.directory import ContactRef, SentMessage
from services.feedback.surveys.answers import Answer
from shared.events import derived_event_id
from shared.events import feedback as fb
from shared.survey_links import Invitation

log = logging.getLogger(__name__)
PAGE = "survey-page"
SMS = "twilio-sms-survey"
MAX_TAGS = 20
_TAG: TypeAdapter[str] = TypeAdapter(fb.Tag)


def clean_tags(tags: Sequence[str]) -> list[str]:
    """The tags an event can carry (sorted, unique, at most MAX_TAGS); the rest dropped and
    logged: a tagger's mistake must not cost the customer's answer."""
    kept: set[str] = set()
    for tag in tags:
        try:
            kept.add(_TAG.validate_python(tag))
        except ValidationError:
            log.warning("the tagger gave a tag no event can carry: %r", tag)
    return sorted(kept)[:MAX_TAGS]


def page_answer(
    invitation: Invitation, answer: Answer, *, nonce: str, tags: Sequence[str], now: datetime
) -> fb.SurveyAnsweredEvent:
    """The record of an answer given on the survey page."""
    origin_id = "\x1f".join((invitation.message_id, nonce, str(answer.score), answer.comment or ""))
    data = fb.SurveyAnswered(
        survey=invitation.survey,
        score=answer.score,
        comment=answer.comment,
        tags=clean_tags(tags),
        order_id=invitation.order_id,
        message=fb.MessageRef(message_id=invitation.message_id, campaign_id=invitation.campaign_id),
    )
    return fb.SurveyAnsweredEvent(
        id=derived_event_id(invitation.shop_id, PAGE, origin_id),
        source=f"/shops/{invitation.shop_id}/survey",
        time=now,
        shopid=invitation.shop_id,
        customerid=invitation.customer_id,
        data=data,
    )


def sms_answer(
    ref: ContactRef, asked: SentMessage, score: int, *, sid: str, now: datetime
) -> fb.SurveyAnsweredEvent:
    """The record of a bare-number text answering the survey SMS `asked`."""
    assert asked.survey is not None
    data = fb.SurveyAnswered(
        survey=asked.survey,
        score=score,
        order_id=asked.order_id,
        message=fb.MessageRef(
            message_id=asked.message_id,
            trigger_id=asked.trigger_id,
            campaign_id=asked.campaign_id,
        ),
    )
    return fb.SurveyAnsweredEvent(
        id=derived_event_id(ref.shop_id, SMS, f"{sid}\x1f{ref.customer_id}"),
        source=f"/shops/{ref.shop_id}/twilio",
        time=now,
        shopid=ref.shop_id,
        customerid=ref.customer_id,
        data=data,
    )
