"""Simulated customers answer what the sinks received, against the feedback service's real
endpoints: a text answered STOP, an email unsubscribed from in one click and its survey
answered on the page its link leads to (no click recorded on the way).

The feedback app (an in-memory directory, a recording publisher) is served by uvicorn on a
free port; the inboxes run as `nudge simulate` runs them while it sends (command.inboxes),
and the sinks' log lines are written here, in their format, once they are followed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import uvicorn

from services.feedback.directory import ContactFacts, ContactRef, SentMessage
from services.feedback.parts import Parts
from services.simulator.command import Plan, ReplyOptions, inboxes
from services.simulator.formats import Format
from services.simulator.population import Mix, customer
from shared import survey_links
from shared.clock import ScaledClock
from shared.events import feedback as fb
from shared.events.shop import Channel
from shared.tracking_links import Click, Tracked, sign_click
from shared.unsubscribe import Unsubscribe
from shared.unsubscribe import sign as sign_unsubscribe
from tests.support.dispatch_process import TEST_LINK_KEYS
from tests.support.feedback_process import RecordingPublisher, create_app, fake_parts
from tests.support.ingest_process import free_port

pytestmark = pytest.mark.integration

TOKEN = "sms-sink-token"
SHOPS = ("sim-native",)
ANSWERING = Mix(
    phone_share=1.0,
    survey_answer_probability=1.0,
    stop_reply_probability=1.0,
    unsubscribe_probability=1.0,
    click_probability=0.0,
)
"""Every reply certain (probabilities of 0 or 1 are not drawn around a mean)."""
SCALE = 86_400.0 * 2
"""A simulated day in half a second: every reply is due within that."""


@dataclass
class Feedback:
    parts: Parts
    url: str

    @property
    def published(self) -> RecordingPublisher:
        assert isinstance(self.parts.publisher, RecordingPublisher)
        return self.parts.publisher


@pytest.fixture
async def feedback() -> AsyncIterator[Feedback]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    parts = fake_parts(public_url=url, twilio_auth_token=TOKEN)
    config = uvicorn.Config(create_app(parts), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.ensure_future(server.serve())
    while not server.started:
        assert not serving.done(), "uvicorn did not start"
        await asyncio.sleep(0.01)
    yield Feedback(parts, url)
    server.should_exit = True
    await serving


async def test_customers_stop_unsubscribe_and_answer_surveys(
    feedback: Feedback, tmp_path: Path
) -> None:
    person = customer(7, SHOPS, 2, ANSWERING)
    assert person.phone is not None
    ref = ContactRef(person.shop, person.customer_id)
    now = datetime.now(UTC)
    email_id, text_id = str(uuid.UUID(int=101)), str(uuid.UUID(int=102))
    # What dispatch's message.sent and the shop's events taught the directory.
    texted = SentMessage(
        text_id, ref, Channel.SMS, "trg-1", "abandoned_cart", False, "SM" + "2" * 32, now
    )
    await feedback.parts.directory.record([ContactFacts(ref, phone=person.phone)], [texted])

    invitation = survey_links.Invitation(
        shop_id=person.shop,
        customer_id=person.customer_id,
        message_id=email_id,
        campaign_id="review_request",
        survey=fb.SurveyKind.CSAT,
        expires_at=(now + timedelta(days=30)).replace(microsecond=0),
        order_id="5000070000002001",
    )
    survey = f"{feedback.url}/s/{survey_links.sign(TEST_LINK_KEYS, invitation)}"
    click = Click(Tracked(person.shop, person.customer_id, email_id), survey)
    tracked_survey = f"{feedback.url}/c/{sign_click(TEST_LINK_KEYS, click)}"
    unsubscribe = Unsubscribe(person.shop, person.customer_id, "email")
    one_click = f"{feedback.url}/u/{sign_unsubscribe(TEST_LINK_KEYS, unsubscribe)}"

    smtp_log, sms_log, replies_log = (tmp_path / n for n in ("smtp", "sms", "replies.jsonl"))
    plan = Plan(7, 5, 1.0, now, ((person.shop, Format.NATIVE),), ANSWERING)
    options = ReplyOptions(feedback.url, smtp_log, sms_log, replies_log, TOKEN, linger_s=1.5)
    clock = ScaledClock(origin=now.timestamp(), scale=SCALE)
    async with inboxes(plan, clock, options) as inbox:  # what `nudge simulate` runs
        assert inbox is not None
        await asyncio.sleep(0.1)  # the logs appear once the inbox follows them
        received = datetime.now(UTC).isoformat()
        mail = {
            "subject": "How did we do?",
            "headers": [
                ["To", person.email],
                ["Message-ID", f"<{email_id}@sim-native.example.com>"],
                ["List-Unsubscribe", f"<{one_click}>"],
                ["List-Unsubscribe-Post", "List-Unsubscribe=One-Click"],
            ],
            "links": [tracked_survey, one_click],
            "received_at": received,
            "rcpt_tos": [person.email],
            "message_id": f"<{email_id}@sim-native.example.com>",
            "duplicate": False,
        }
        text = {
            "sid": "SM" + "2" * 32,
            "received_at": received,
            "to": person.phone,
            "from": "+15005550006",
            "body": "Sim Native: your cart is waiting. Reply STOP to opt out",
            "idempotency_key": text_id,
            "duplicate": False,
        }
        smtp_log.write_bytes(orjson.dumps(mail) + b"\n")
        sms_log.write_bytes(orjson.dumps(text) + b"\n")
    tally = inbox.tally

    assert tally.as_json()["replies"] == {
        "stop": {"ok": 1},
        "survey": {"ok": 1},
        "unsubscribe": {"ok": 1},
    }
    withdrawn = {
        (e.key, e.data.channel, e.data.source)
        for e in feedback.published.on(None)
        if isinstance(e, fb.ConsentWithdrawnEvent)
    }
    key = f"{person.shop}:{person.customer_id}"
    assert withdrawn == {(key, Channel.SMS, "sms_keyword"), (key, Channel.EMAIL, "one_click")}
    (answered,) = [e for e in feedback.published.on(None) if isinstance(e, fb.SurveyAnsweredEvent)]
    assert not [e for e in feedback.published.on(None) if isinstance(e, fb.MessageClickedEvent)]
    lines = [orjson.loads(line) for line in replies_log.read_bytes().splitlines()]
    (survey_line,) = [line for line in lines if line["kind"] == "survey"]
    assert answered.key == key and answered.data.score == survey_line["score"]
    assert 1 <= answered.data.score <= 5
    assert {line["message_id"] for line in lines} == {email_id, text_id}
    assert all(line["customer_id"] == person.customer_id for line in lines)
