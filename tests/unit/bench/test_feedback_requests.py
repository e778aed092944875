"""The feedback bench's requests are ones the service takes, and the floor does the same work:
every inbound text and one-click the bench writes, replayed against the service's app (with the
bench's directory seeded in memory) and against the floor app, each with a recording publisher.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import orjson
import pytest

from services.feedback.directory import ContactRef
from services.feedback.settings import FeedbackSettings
from shared import twilio_signature
from shared.events import EventEnvelope
from shared.events.feedback import ConsentGrantedEvent, ConsentWithdrawnEvent, ReplyReceivedEvent
from shared.events.shop import Channel
from tests.bench import feedback_floor
from tests.bench.feedback import bench_contact, seed_directory
from tests.bench.service import FEEDBACK_TWILIO_TOKEN
from tests.bench.targets import (
    FEEDBACK_SHOP,
    SMS_MIX,
    Counter,
    feedback_customer,
    inbound_sms,
    one_clicks,
)
from tests.support.dispatch_process import TEST_LINK_KEYS
from tests.support.feedback_process import RecordingPublisher, create_app, fake_parts

BASE = "http://127.0.0.1:18083"
"""Where the bench would find the service: also its public URL, which Twilio signs."""
CONTACTS = 40
MIX = {
    "STOP": ConsentWithdrawnEvent,
    "START": ConsentGrantedEvent,
}


@dataclasses.dataclass(frozen=True)
class Target:
    url: str
    headers: httpx.Headers
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.url).path


def targets(lines: Iterator[bytes]) -> list[Target]:
    """vegeta's JSON targets, read back."""
    read = []
    for line in lines:
        raw: dict[str, Any] = orjson.loads(line)
        headers = httpx.Headers({name: values[0] for name, values in raw["header"].items()})
        read.append(Target(raw["url"], headers, base64.b64decode(raw["body"])))
    return read


def texts(count: int = len(SMS_MIX)) -> list[Target]:
    counter = Counter.starting_at("0123abcd", 0)
    url = f"{BASE}/sms/inbound"
    return targets(inbound_sms(url, FEEDBACK_TWILIO_TOKEN, counter, count, CONTACTS))


def clicks(count: int = 5) -> list[Target]:
    counter = Counter.starting_at("0123abcd", 0)
    return targets(one_clicks(BASE, TEST_LINK_KEYS, counter, count, CONTACTS))


async def replay(app: Any, sent: list[Target]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        return [await client.post(t.path, content=t.body, headers=t.headers) for t in sent]


def expected_kind(text: str) -> type[EventEnvelope]:
    return MIX.get(text, ReplyReceivedEvent)


def test_an_inbound_text_carries_twilios_signature_over_the_url_and_form() -> None:
    (text,) = texts(1)
    params = parse_qsl(text.body.decode(), keep_blank_values=True)
    signature = text.headers[twilio_signature.HEADER]
    assert text.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert twilio_signature.is_valid([FEEDBACK_TWILIO_TOKEN], text.url, params, signature)
    assert not twilio_signature.is_valid(["another-token"], text.url, params, signature)
    fields = dict(params)
    assert fields["MessageSid"] == fields["SmsSid"] and fields["MessageSid"].startswith("SM")


def test_senders_and_sids_vary() -> None:
    sent = [dict(parse_qsl(t.body.decode(), keep_blank_values=True)) for t in texts()]
    assert len({fields["From"] for fields in sent}) == len(sent)
    assert len({fields["MessageSid"] for fields in sent}) == len(sent)
    assert len({t.path for t in clicks()}) == 5


async def test_the_service_takes_every_bench_request_and_publishes_one_record_each() -> None:
    parts = fake_parts(public_url=BASE, twilio_auth_token=FEEDBACK_TWILIO_TOKEN)
    await seed_directory(parts.directory, CONTACTS, datetime.now(UTC))
    publisher = parts.publisher
    assert isinstance(publisher, RecordingPublisher)
    app = create_app(parts)

    answers = await replay(app, texts())
    assert [a.status_code for a in answers] == [200] * len(SMS_MIX), answers[0].text
    assert [type(e) for e in publisher.published] == [expected_kind(t) for t in SMS_MIX]
    for n, event in enumerate(publisher.published):
        assert isinstance(event, ConsentWithdrawnEvent | ConsentGrantedEvent | ReplyReceivedEvent)
        last = bench_contact(n, datetime.now(UTC))[1]
        assert event.key == f"{FEEDBACK_SHOP}:{feedback_customer(n)}"
        assert event.data.message is not None  # the seeded text was found: the realistic path
        assert event.data.message.message_id == last.message_id

    publisher.published.clear()
    answers = await replay(app, clicks())
    assert [a.status_code for a in answers] == [200] * 5
    assert all(isinstance(e, ConsentWithdrawnEvent) for e in publisher.published)
    refs = [ContactRef(e.shopid, e.customerid or "") for e in publisher.published]
    assert refs == [ContactRef(FEEDBACK_SHOP, feedback_customer(n)) for n in range(5)]
    assert all(
        isinstance(e, ConsentWithdrawnEvent) and e.data.channel is Channel.EMAIL
        for e in publisher.published
    )


@pytest.fixture
def floor() -> Iterator[RecordingPublisher]:
    publisher = RecordingPublisher()
    settings = FeedbackSettings(public_url=BASE, twilio_auth_token=FEEDBACK_TWILIO_TOKEN)
    feedback_floor.configure(settings, TEST_LINK_KEYS, publisher)
    yield publisher
    feedback_floor._State.publisher = None


async def test_the_floor_takes_the_same_requests_and_builds_the_same_records(
    floor: RecordingPublisher,
) -> None:
    answers = await replay(feedback_floor.app, texts())
    assert [a.status_code for a in answers] == [200] * len(SMS_MIX)
    assert [type(e) for e in floor.published] == [expected_kind(t) for t in SMS_MIX]
    assert all(a.headers["content-type"].startswith("text/xml") for a in answers)

    floor.published.clear()
    answers = await replay(feedback_floor.app, clicks())
    assert [a.status_code for a in answers] == [200] * 5
    refs = [ContactRef(e.shopid, e.customerid or "") for e in floor.published]
    assert refs == [ContactRef(FEEDBACK_SHOP, feedback_customer(n)) for n in range(5)]
    assert all(isinstance(e, ConsentWithdrawnEvent) for e in floor.published)


async def test_the_floor_checks_what_the_service_checks(floor: RecordingPublisher) -> None:
    text, click = texts(1)[0], clicks(1)[0]
    forged = dataclasses.replace(text, body=text.body.replace(b"STOP", b"START"))
    other_link = dataclasses.replace(click, url=click.url[:-2] + "AA")
    not_one_click = dataclasses.replace(click, body=b"List-Unsubscribe=Yes")
    answers = await replay(feedback_floor.app, [forged, other_link, not_one_click])
    assert [a.status_code for a in answers] == [403, 404, 422]
    assert floor.published == []
