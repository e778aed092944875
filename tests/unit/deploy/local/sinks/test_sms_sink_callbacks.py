"""The SMS sink's status callbacks, as Twilio sends them: signed form POSTs that the feedback
service itself verifies and turns into records (its app, with fakes, served by uvicorn in this
process; the sink calls it over the loopback with aiohttp's client)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import pytest
import uvicorn
from aiohttp.test_utils import TestClient, TestServer

from deploy.local.sinks.sms_sink import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, SmsSink
from services.feedback.directory import ContactRef, SentMessage
from services.feedback.parts import Parts
from shared.events import feedback as fb
from shared.events.messages import MessageDeliveredEvent, MessageUndeliveredEvent
from shared.events.shop import Channel
from shared.topics import MESSAGES_STATUS
from tests.support.feedback_process import RecordingPublisher, create_app, fake_parts
from tests.support.ingest_process import free_port

REF = ContactRef("shop-a", "a-1")
MESSAGES = f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"


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
    """The feedback app on a free port, its public URL being that address (what the sink
    signs is the URL it calls). A callback may come before the directory learns its message,
    as in production: feedback waits for it (`sms_status_wait_s`)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    parts = fake_parts(public_url=url, twilio_auth_token=DEFAULT_AUTH_TOKEN, sms_status_wait_s=10)
    config = uvicorn.Config(create_app(parts), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    serving = asyncio.ensure_future(server.serve())
    while not server.started:
        assert not serving.done(), "uvicorn did not start"
        await asyncio.sleep(0.01)
    yield Feedback(parts, url)
    server.should_exit = True
    await serving


async def run_sink(feedback: Feedback, to: str, callback: str | None, **state: Any) -> SmsSink:
    """The sink takes one message and goes through its statuses; the message is known to the
    feedback directory as dispatch's message.sent would make it."""
    sink = SmsSink(callback_delay_ms=0, **state)
    fields = {"To": to, "From": "+15005550006", "Body": "Your cart misses you"}
    if callback is not None:
        fields["StatusCallback"] = callback
    auth = aiohttp.encode_basic_auth(DEFAULT_ACCOUNT_SID, sink.auth_token)
    async with TestClient(TestServer(sink.app())) as client:
        async with client.post(MESSAGES, data=fields, headers={"Authorization": auth}) as answer:
            assert answer.status == 201
            sid = (await answer.json())["sid"]
        sent = SentMessage(
            "msg-1", REF, Channel.SMS, "trg-1", "abandoned_cart", False, sid, datetime.now(UTC)
        )
        await feedback.parts.directory.record([], [sent])
        await sink.settled()
    return sink


async def test_sent_then_delivered_signed_and_verified(feedback: Feedback) -> None:
    callback = f"{feedback.url}/sms/status"
    sink = await run_sink(feedback, "+31612345678", callback + "#rc=3")
    assert [(c["status"], c.get("answer")) for c in sink.callbacks] == [
        ("sent", 204),
        ("delivered", 204),
    ]
    assert all(c["url"] == callback for c in sink.callbacks)  # the fragment is not sent
    (record,) = feedback.published.on(MESSAGES_STATUS.name)
    assert isinstance(record, MessageDeliveredEvent)
    assert record.data.provider_id == sink.messages[0].sid
    assert sink.messages[0].status == "delivered" and sink.messages[0].sent is not None


async def test_a_number_told_to_fail_ends_undelivered_with_its_code(feedback: Feedback) -> None:
    sink = await run_sink(
        feedback,
        "+31612345678",
        f"{feedback.url}/sms/status",
        delivery_failures={"+31612345678": "30005"},
    )
    assert [(c["status"], c.get("answer")) for c in sink.callbacks] == [
        ("sent", 204),
        ("undelivered", 204),
    ]
    (record,) = feedback.published.on(MESSAGES_STATUS.name)
    assert isinstance(record, MessageUndeliveredEvent) and record.data.error_code == "30005"
    (failed,) = feedback.published.on(None)
    assert isinstance(failed, fb.SmsDeliveryFailedEvent) and failed.data.permanent
    assert sink.messages[0].resource()["error_code"] == 30005


async def test_signed_with_another_token_the_callbacks_are_refused(feedback: Feedback) -> None:
    sink = await run_sink(
        feedback, "+31612345678", f"{feedback.url}/sms/status", auth_token="not-the-token"
    )
    assert [c.get("answer") for c in sink.callbacks] == [403, 403]
    assert feedback.published.published == []


async def test_a_callback_url_that_does_not_answer_is_tried_twice_and_recorded(
    feedback: Feedback,
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}/sms/status"
    sink = await run_sink(feedback, "+31612345678", nobody)
    assert [c["status"] for c in sink.callbacks] == ["sent", "delivered"]
    assert all("answer" not in c and c["error"] for c in sink.callbacks)


async def test_no_status_callback_no_callbacks_but_the_status_moves_on(
    feedback: Feedback,
) -> None:
    sink = await run_sink(feedback, "+31612345678", None)
    assert sink.callbacks == []
    assert sink.messages[0].status == "delivered"
