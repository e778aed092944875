"""`/c/<token>` and `/o/<token>.gif` through the app with fakes: a signed click redirects and
is recorded, nothing else ever redirects (open-redirect attempts), the pixel is always the
GIF, machines are recorded as machines, and a broker that does not answer costs the record,
never the customer's redirect."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import quote, unquote

import httpx
import msgspec
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from services.feedback.directory import ContactRef, SentMessage
from services.feedback.parts import Parts
from services.feedback.tracking.pixel import GIF
from shared import signed_links
from shared.events.feedback import (
    Engagement,
    MachineReason,
    MessageClickedEvent,
    MessageOpenedEvent,
)
from shared.events.shop import Channel
from shared.keyring import MasterKeyRing
from shared.publisher import BrokerUnavailable
from shared.tracking_links import CLICK, Click, Tracked, sign_click, sign_open
from shared.unsubscribe import Unsubscribe, sign
from tests.support.dispatch_process import TEST_LINK_KEYS
from tests.support.feedback_process import RecordingPublisher, create_app, fake_parts

BROWSER = {
    "user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
}
TARGET = "https://acme.example/cart/recover/abc123?utm_source=nudge&x=1"


class Tracking:
    def __init__(self, client: httpx.AsyncClient, parts: Parts) -> None:
        self.client = client
        self.parts = parts

    @property
    def publisher(self) -> RecordingPublisher:
        assert isinstance(self.parts.publisher, RecordingPublisher)
        return self.parts.publisher

    async def sent(self, message_id: str, channel: Channel, ago: timedelta) -> None:
        message = SentMessage(
            message_id=message_id,
            ref=ContactRef("acme", "c1"),
            channel=channel,
            trigger_id="t-1",
            campaign_id="abandoned_cart",
            transactional=False,
            provider_id=None,
            sent_at=self.parts.clock.now() - ago,
        )
        await self.parts.directory.record([], [message])


@pytest.fixture
async def tracking() -> AsyncIterator[Tracking]:
    parts = fake_parts(
        public_url="http://feedback", machine_networks="17.58.0.0/16, 2a01:b740::/32"
    )
    app = create_app(parts)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as client:
        yield Tracking(client, parts)


def tracked() -> Tracked:
    return Tracked("acme", "c1", str(uuid.uuid4()))


def click_token(url: str = TARGET, who: Tracked | None = None) -> str:
    return sign_click(TEST_LINK_KEYS, Click(who or tracked(), url))


def engagements(publisher: object) -> list[Engagement]:
    """What was published, as the opens' and clicks' data."""
    assert isinstance(publisher, RecordingPublisher)
    found = []
    for event in publisher.published:
        assert isinstance(event, MessageOpenedEvent | MessageClickedEvent)
        found.append(event.data)
    return found


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- clicks --------------------------------------------------------------------------------


async def test_a_signed_click_is_recorded_then_redirected(tracking: Tracking) -> None:
    who = tracked()
    await tracking.sent(who.message_id, Channel.EMAIL, timedelta(hours=2))
    answer = await tracking.client.get(f"/c/{click_token(who=who)}", headers=BROWSER)
    assert answer.status_code == 302
    assert answer.headers["location"] == TARGET
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    (event,) = tracking.publisher.published
    assert isinstance(event, MessageClickedEvent)
    assert (event.key, event.data.url, event.data.channel) == ("acme:c1", TARGET, Channel.EMAIL)
    assert event.data.message.message_id == who.message_id
    assert event.data.message.campaign_id == "abandoned_cart"
    assert (event.data.machine, event.data.reason) == (False, None)


async def test_a_url_parameter_is_ignored(tracking: Tracking) -> None:
    evil = quote("https://evil.example/", safe="")
    answer = await tracking.client.get(f"/c/{click_token()}?url={evil}&to={evil}")
    assert (answer.status_code, answer.headers["location"]) == (302, TARGET)


def _tampered(token: str) -> str:
    kid, payload, mac = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    fields = msgspec.msgpack.decode(bytes(raw))
    fields[4] = "https://evil.example/"
    forged = base64.urlsafe_b64encode(msgspec.msgpack.encode(fields)).rstrip(b"=").decode()
    return f"{kid}.{forged}.{mac}"


def _payload(url: str) -> bytes:
    return msgspec.msgpack.encode([1, "acme", "c1", uuid.uuid4().bytes, url])


OTHER_RING = MasterKeyRing.single(SecretStr("o" * 40), "retired").link_keys()
ATTEMPTS = {
    "unsigned": "https://evil.example/",
    "unsigned encoded": quote("https://evil.example/", safe=""),
    "protocol-relative": "%2F%2Fevil.example",
    "backslashes": "%5C%5Cevil.example",
    "tampered target": _tampered(click_token()),
    "no mac": click_token().rsplit(".", 1)[0],
    "unsubscribe token": sign(TEST_LINK_KEYS, Unsubscribe("acme", "c1", "email")),
    "open token": sign_open(TEST_LINK_KEYS, tracked()),
    "another key id": "zz." + click_token().split(".", 1)[1],
    "a key not in the ring": sign_click(OTHER_RING, Click(tracked(), TARGET)),
    "empty-ish": "...",
}


@pytest.mark.parametrize("token", ATTEMPTS.values(), ids=ATTEMPTS.keys())
async def test_whatever_is_not_a_signed_click_gets_400_never_a_redirect(
    tracking: Tracking, token: str
) -> None:
    """400 with a page; 404 where the attempt puts a slash in the path (no such route)."""
    answer = await tracking.client.get(f"/c/{token}", headers=BROWSER)
    assert answer.status_code == (404 if "/" in unquote(token) else 400)
    assert "location" not in answer.headers
    if answer.status_code == 400:
        assert "This link does not work" in answer.text
    assert tracking.publisher.published == []


@pytest.mark.parametrize(
    "target",
    [
        "javascript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/",
        "https://acme.example\\@evil.example/",
        "https:\\\\evil.example",
        "https://acme.example@evil.example/",
        "https://acme.example/\r\nSet-Cookie: a=b",
        "/relative",
    ],
)
async def test_a_signed_target_that_is_not_a_web_address_is_refused_too(
    tracking: Tracking, target: str
) -> None:
    """Dispatch never signs such targets; a key that did must still not make an open redirect."""
    token = signed_links.sign(TEST_LINK_KEYS, CLICK, _payload(target))
    answer = await tracking.client.get(f"/c/{token}", headers=BROWSER)
    assert answer.status_code == 400 and "location" not in answer.headers
    assert tracking.publisher.published == []


async def test_a_refusal_is_a_problem_for_what_is_not_a_browser(tracking: Tracking) -> None:
    answer = await tracking.client.get("/c/not-a-token")
    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert "location" not in answer.headers


async def test_paths_that_look_like_another_host_are_not_routes(tracking: Tracking) -> None:
    for path in ("/c//evil.example", "/c///evil.example/x", "/c/"):
        answer = await tracking.client.get(path)
        assert answer.status_code in (404, 405) and "location" not in answer.headers


async def test_when_the_broker_does_not_answer_the_customer_still_reaches_the_shop(
    tracking: Tracking,
) -> None:
    tracking.publisher.failure = BrokerUnavailable("kafka did not acknowledge within 1s")
    lost = sample("nudge_feedback_tracking_lost_total", kind="click")
    answer = await tracking.client.get(f"/c/{click_token()}", headers=BROWSER)
    assert (answer.status_code, answer.headers["location"]) == (302, TARGET)
    assert sample("nudge_feedback_tracking_lost_total", kind="click") == lost + 1


async def test_a_scanner_is_redirected_and_recorded_as_a_machine(tracking: Tracking) -> None:
    answer = await tracking.client.head(
        f"/c/{click_token()}", headers={"user-agent": BROWSER["user-agent"]}
    )
    assert answer.status_code == 302
    (data,) = engagements(tracking.publisher)
    assert (data.machine, data.reason) == (True, MachineReason.HEAD_REQUEST)


async def test_an_email_clicked_on_delivery_is_a_gateway(tracking: Tracking) -> None:
    who = tracked()
    await tracking.sent(who.message_id, Channel.EMAIL, timedelta(seconds=2))
    await tracking.client.get(f"/c/{click_token(who=who)}", headers=BROWSER)
    (data,) = engagements(tracking.publisher)
    assert data.reason is MachineReason.TOO_SOON


async def test_an_sms_tapped_at_once_is_a_person(tracking: Tracking) -> None:
    who = tracked()
    await tracking.sent(who.message_id, Channel.SMS, timedelta(seconds=2))
    await tracking.client.get(f"/c/{click_token(who=who)}", headers=BROWSER)
    (data,) = engagements(tracking.publisher)
    assert (data.machine, data.channel) == (False, Channel.SMS)


async def test_every_link_of_a_message_at_once_is_a_burst(tracking: Tracking) -> None:
    who = tracked()
    for url in ("https://acme.example/1", "https://acme.example/2", "https://acme.example/3"):
        await tracking.client.get(f"/c/{click_token(url, who)}", headers=BROWSER)
    reasons = [e.reason for e in engagements(tracking.publisher)]
    assert reasons == [None, MachineReason.BURST, MachineReason.BURST]


async def test_a_listed_network_is_a_machine() -> None:
    parts = fake_parts(public_url="http://feedback", machine_networks="17.58.0.0/16")
    transport = httpx.ASGITransport(app=create_app(parts), client=("17.58.1.2", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as client:
        await client.get(f"/o/{sign_open(TEST_LINK_KEYS, tracked())}.gif", headers=BROWSER)
    assert isinstance(parts.publisher, RecordingPublisher)
    (data,) = engagements(parts.publisher)
    assert data.reason is MachineReason.LISTED_NETWORK


# --- opens ---------------------------------------------------------------------------------


async def test_an_open_is_recorded_and_answered_with_the_gif(tracking: Tracking) -> None:
    who = tracked()
    answer = await tracking.client.get(f"/o/{sign_open(TEST_LINK_KEYS, who)}.gif", headers=BROWSER)
    assert (answer.status_code, answer.content) == (200, GIF)
    assert answer.headers["content-type"] == "image/gif"
    assert answer.headers["cache-control"] == "no-store"
    (event,) = tracking.publisher.published
    assert isinstance(event, MessageOpenedEvent)
    assert (event.data.channel, event.data.machine) == (Channel.EMAIL, False)
    assert event.data.message.message_id == who.message_id


async def test_apple_mail_privacy_protection_opens_are_machines(tracking: Tracking) -> None:
    token = sign_open(TEST_LINK_KEYS, tracked())
    answer = await tracking.client.get(f"/o/{token}.gif", headers={"user-agent": "Mozilla/5.0"})
    assert answer.content == GIF
    (data,) = engagements(tracking.publisher)
    assert (data.machine, data.reason) == (True, MachineReason.APPLE_PRIVACY_PROXY)


@pytest.mark.parametrize(
    "token",
    ["x", "k0.AAAA.BBBB", click_token(), sign(TEST_LINK_KEYS, Unsubscribe("a", "c", "email"))],
)
async def test_a_bad_token_still_gets_the_gif_and_records_nothing(
    tracking: Tracking, token: str
) -> None:
    answer = await tracking.client.get(f"/o/{token}.gif", headers=BROWSER)
    assert (answer.status_code, answer.content) == (200, GIF)
    assert answer.headers["cache-control"] == "no-store"
    assert tracking.publisher.published == []


async def test_the_broker_away_still_answers_the_gif(tracking: Tracking) -> None:
    tracking.publisher.failure = BrokerUnavailable("away")
    answer = await tracking.client.get(f"/o/{sign_open(TEST_LINK_KEYS, tracked())}.gif")
    assert (answer.status_code, answer.content) == (200, GIF)


def test_both_routes_document_get_and_head_with_every_answer() -> None:
    document = create_app(None).openapi()
    for path, answers in (("/c/{token}", {"302", "400"}), ("/o/{token}.gif", {"200"})):
        for method in ("get", "head"):
            operation = document["paths"][path][method]
            assert answers <= set(operation["responses"]), (path, method)
            assert operation["parameters"][0]["name"] == "token"
