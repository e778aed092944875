"""The SMS sink's status callbacks, as Twilio sends them: signed form POSTs that the feedback
service itself verifies and turns into records (the sink's client talks to the real app)."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx

from deploy.local.sinks.common import JsonLinesLog
from deploy.local.sinks.http_server import Request, Response
from deploy.local.sinks.sms_sink import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, SmsSink
from services.feedback.directory import ContactRef, SentMessage
from services.feedback.parts import Parts
from shared.events import feedback as fb
from shared.events.messages import MessageDeliveredEvent, MessageUndeliveredEvent
from shared.events.shop import Channel
from shared.topics import MESSAGES_STATUS
from tests.support.feedback_process import RecordingPublisher, create_app, fake_parts

PUBLIC = "https://hooks.nudge.example"
CALLBACK = f"{PUBLIC}/sms/status"
REF = ContactRef("shop-a", "a-1")


def create_message(to: str, callback: str | None) -> Request:
    credentials = base64.b64encode(f"{DEFAULT_ACCOUNT_SID}:{DEFAULT_AUTH_TOKEN}".encode())
    fields = {"To": to, "From": "+15005550006", "Body": "Your cart misses you"}
    if callback is not None:
        fields["StatusCallback"] = callback
    return Request(
        "POST",
        f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json",
        {},
        {
            "authorization": f"Basic {credentials.decode()}",
            "content-type": "application/x-www-form-urlencoded",
        },
        urlencode(fields).encode(),
    )


async def run_sink(to: str, callback: str | None, **control: object) -> tuple[SmsSink, Parts]:
    """The sink takes one message; the feedback app (fakes) answers its callbacks."""
    parts = fake_parts(public_url=PUBLIC, twilio_auth_token=DEFAULT_AUTH_TOKEN, sms_status_wait_s=0)
    sink = SmsSink(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, JsonLinesLog(None))
    sink._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(parts)))
    for name, value in control.items():
        setattr(sink, name, value)
    answer = sink.handle(create_message(to, callback))
    assert isinstance(answer, Response) and answer.status == 201
    (message,) = sink.messages
    sent = SentMessage(
        "msg-1",
        REF,
        Channel.SMS,
        "trg-1",
        "abandoned_cart",
        False,
        message["sid"],
        datetime.now(UTC),
    )
    await parts.directory.record([], [sent])  # as the index learns dispatch's message.sent
    await asyncio.gather(*sink._reporting)
    await sink._client.aclose()
    return sink, parts


def recorder(parts: Parts) -> RecordingPublisher:
    assert isinstance(parts.publisher, RecordingPublisher)
    return parts.publisher


async def test_sent_then_delivered_signed_and_verified() -> None:
    sink, parts = await run_sink("+31612345678", CALLBACK + "#rc=3", callback_delay_ms=0)
    assert [(c["status"], c.get("answer")) for c in sink.callbacks] == [
        ("sent", 204),
        ("delivered", 204),
    ]
    assert all(c["url"] == CALLBACK for c in sink.callbacks)  # the fragment is not sent
    (record,) = recorder(parts).on(MESSAGES_STATUS.name)
    assert isinstance(record, MessageDeliveredEvent)
    assert record.data.provider_id == sink.messages[0]["sid"]


async def test_a_number_told_to_fail_ends_undelivered_with_its_code() -> None:
    sink, parts = await run_sink(
        "+31612345678",
        CALLBACK,
        callback_delay_ms=0,
        delivery_failures={"+31612345678": "30005"},
    )
    assert [(c["status"], c.get("answer")) for c in sink.callbacks] == [
        ("sent", 204),
        ("undelivered", 204),
    ]
    (record,) = recorder(parts).on(MESSAGES_STATUS.name)
    assert isinstance(record, MessageUndeliveredEvent) and record.data.error_code == "30005"
    (failed,) = recorder(parts).on(None)
    assert isinstance(failed, fb.SmsDeliveryFailedEvent) and failed.data.permanent


async def test_signed_with_another_token_the_callbacks_are_refused() -> None:
    sink, parts = await run_sink(
        "+31612345678", CALLBACK, callback_delay_ms=0, _auth_token="not-the-accounts-token"
    )
    assert [c.get("answer") for c in sink.callbacks] == [403, 403]
    assert recorder(parts).published == []


async def test_no_status_callback_no_callbacks() -> None:
    sink, _ = await run_sink("+31612345678", None)
    assert sink.callbacks == [] and not sink._reporting


def test_the_control_page_sets_failures_and_callbacks() -> None:
    sink = SmsSink(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, JsonLinesLog(None))
    body = b'{"delivery_failures": {"+31612345678": "21614"}, "callbacks": false}'
    answer = sink.handle(Request("POST", "/control", {}, {}, body))
    assert isinstance(answer, Response) and answer.status == 200
    assert b'"delivery_failures":{"+31612345678":"21614"}' in answer.body
    assert sink.send_callbacks is False
