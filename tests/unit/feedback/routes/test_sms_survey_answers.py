"""`/sms/inbound` with fakes: a bare score texted back to the SMS that asked for a survey is a
`survey.answered` about that SMS's order; anything else, or to an SMS that asked for none, stays
a `reply.received`; Twilio's retry of one text is one event."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import httpx

from services.feedback.directory import ContactFacts, ContactRef, SentMessage, SurveyAsk
from services.feedback.parts import Parts
from shared.events import EventEnvelope
from shared.events import feedback as fb
from shared.events.shop import Channel
from tests.support import twilio
from tests.support.clocks import PinnedClock
from tests.support.feedback_process import RecordingPublisher, create_app, fake_parts

PUBLIC = "https://hooks.nudge.example"
PHONE = "+31612345678"
REF = ContactRef("shop-a", "a-1")
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


async def parts_with_sms(survey: fb.SurveyKind | None, order_id: str | None = "o-1") -> Parts:
    """The contact with PHONE, last texted by a review request asking for `survey`."""
    parts = dataclasses.replace(
        fake_parts(public_url=PUBLIC, twilio_auth_token=twilio.TOKEN),
        clock=PinnedClock(T0 + timedelta(minutes=30)),
    )
    sms = SentMessage("msg-1", REF, Channel.SMS, "trg-1", "review_request", False, twilio.sid(), T0)
    asks = [SurveyAsk("trg-1", REF, survey, order_id, T0)] if survey is not None else []
    await parts.directory.record([ContactFacts(REF, phone=PHONE)], [sms], asks)
    return parts


async def text(parts: Parts, body: str, sid: str | None = None) -> httpx.Response:
    url = f"{PUBLIC}/sms/inbound"
    form, headers = twilio.signed(url, twilio.inbound(PHONE, body, message_sid=sid))
    transport = httpx.ASGITransport(app=create_app(parts))
    async with httpx.AsyncClient(transport=transport, base_url="http://10.0.0.7:8083") as client:
        answer = await client.post("/sms/inbound", content=form, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer


def published(parts: Parts) -> list[EventEnvelope]:
    assert isinstance(parts.publisher, RecordingPublisher)
    return list(parts.publisher.published)


async def test_a_bare_score_answers_the_survey_the_last_sms_asked_for() -> None:
    parts = await parts_with_sms(fb.SurveyKind.CSAT)
    await text(parts, " 4/5 ")
    (event,) = published(parts)
    assert isinstance(event, fb.SurveyAnsweredEvent)
    assert event.key == "shop-a:a-1" and event.source == "/shops/shop-a/twilio"
    assert (event.data.survey, event.data.score, event.data.order_id) == (
        fb.SurveyKind.CSAT,
        4,
        "o-1",
    )
    assert event.data.message == fb.MessageRef(
        message_id="msg-1", trigger_id="trg-1", campaign_id="review_request"
    )
    assert event.data.comment is None


async def test_twilios_retry_of_one_text_is_one_event() -> None:
    parts = await parts_with_sms(fb.SurveyKind.NPS)
    sid = twilio.sid()
    await text(parts, "9", sid)
    await text(parts, "9", sid)
    first, again = published(parts)
    assert isinstance(first, fb.SurveyAnsweredEvent) and first.id == again.id


async def test_words_or_a_score_off_the_scale_stay_a_reply() -> None:
    parts = await parts_with_sms(fb.SurveyKind.CSAT)
    for body in ("9 out of 10", "7", "5 stars, thanks!"):
        await text(parts, body)
    kinds = [type(event) for event in published(parts)]
    assert kinds == [fb.ReplyReceivedEvent] * 3


async def test_a_number_to_an_sms_that_asked_nothing_is_a_reply() -> None:
    parts = await parts_with_sms(None)
    await text(parts, "5")
    (event,) = published(parts)
    assert isinstance(event, fb.ReplyReceivedEvent) and event.data.text == "5"


async def test_a_reply_and_an_answer_to_one_text_never_share_an_id() -> None:
    """Read as a reply first (the index did not know yet that its SMS asked for a survey),
    then, on Twilio's retry, as an answer: the answer must not be dropped as a repeat."""
    sid = twilio.sid()
    early = await parts_with_sms(None)
    await text(early, "5", sid)
    later = await parts_with_sms(fb.SurveyKind.CSAT)
    await text(later, "5", sid)
    (reply,) = published(early)
    (answer,) = published(later)
    assert isinstance(answer, fb.SurveyAnsweredEvent) and answer.id != reply.id
