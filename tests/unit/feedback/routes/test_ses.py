"""`POST /email/sns` with fakes: SNS-signed SES notifications in, feedback events out."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.feedback.bounces.certificates import SigningCertificates, SnsHttp
from services.feedback.bounces.parts import BounceParts
from services.feedback.bounces.store import MemorySuppressionStore
from services.feedback.directory import ContactFacts, ContactRef, SentMessage
from services.feedback.parts import Parts
from shared.events import feedback as fb
from shared.events import parse_feedback_event
from shared.events.shop import Channel
from shared.problem_details import MEDIA_TYPE
from shared.publisher import BrokerUnavailable
from tests.support.feedback_process import RecordingPublisher, create_app, fake_parts
from tests.support.sns import CERT_URL, TOPIC_ARN, Signer, bounce, complaint, delivery

SIGNER = Signer()
IMPOSTOR = Signer(  # a good-looking certificate at SNS's host, from a CA nobody configured
    cert_url=CERT_URL.replace("SimpleNotificationService-", "SimpleNotificationService-0")
)
ADA = ContactRef("acme", "ada")
ADA_TOO = ContactRef("bolt", "ada-b")  # the same address at another shop
BEN = ContactRef("acme", "ben")
MESSAGE = SentMessage(
    message_id="9b2f6f4e-0c1d-4e5f-8a9b-0c1d2e3f4a5b",
    ref=ADA,
    channel=Channel.EMAIL,
    trigger_id="t-1",
    campaign_id="abandoned_cart",
    transactional=False,
    provider_id="<9b2f6f4e-0c1d-4e5f-8a9b-0c1d2e3f4a5b@acme.example>",
    sent_at=datetime(2026, 11, 23, 10, tzinfo=UTC),
)
MESSAGE_ID_HEADER = "<9b2f6f4e-0c1d-4e5f-8a9b-0c1d2e3f4a5b@acme.example>"


class Sns:
    """SNS's host for the app: serves the certificate, answers confirmations, remembers
    every request it got (nothing else may be fetched)."""

    def __init__(self) -> None:
        self.requested: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requested.append(str(request.url))
        for signer in (SIGNER, IMPOSTOR):
            if str(request.url) == signer.cert_url:
                return httpx.Response(200, content=signer.pem())
        return httpx.Response(200, content=b"<ConfirmSubscriptionResponse/>")


@dataclasses.dataclass
class App:
    client: httpx.AsyncClient
    parts: Parts
    sns: Sns

    @property
    def published(self) -> list[Any]:
        publisher = self.parts.publisher
        assert isinstance(publisher, RecordingPublisher)
        return publisher.published

    async def post(self, body: dict[str, Any] | bytes, **headers: str) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await self.client.post(
            "/email/sns",
            content=content,
            headers={"content-type": "text/plain; charset=UTF-8", **headers},
        )


async def make_app(**settings: Any) -> App:
    parts = fake_parts(sns_topic_arns=frozenset({TOPIC_ARN}), **settings)
    sns = Sns()
    http = SnsHttp(transport=httpx.MockTransport(sns))
    bounces = BounceParts(
        SigningCertificates(http=http, signing_cas=[SIGNER.authority.certificate]),
        MemorySuppressionStore(),
        http,
    )
    parts = dataclasses.replace(parts, bounces=bounces)
    await parts.directory.record(
        [
            ContactFacts(ADA, email="Ada@Example.com"),
            ContactFacts(ADA_TOO, email="ada@example.com"),
            ContactFacts(BEN, email="ben@example.com"),
        ],
        [MESSAGE],
    )
    client = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(parts)), base_url="http://feedback"
    )
    return App(client, parts, sns)


@pytest.fixture
async def app() -> AsyncIterator[App]:
    found = await make_app()
    yield found
    await found.client.aclose()


def kinds(events: list[Any]) -> list[tuple[str, str, str]]:
    return sorted((e.type, e.shopid, e.customerid) for e in events)


async def test_a_hard_bounce_reaches_every_shop_with_the_mailbox(app: App) -> None:
    body = SIGNER.notification(bounce("ada@example.com", message_id_header=MESSAGE_ID_HEADER))
    answer = await app.post(body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "accepted", "events": 2}
    assert kinds(app.published) == [
        ("email.bounced", "acme", "ada"),
        ("email.bounced", "bolt", "ada-b"),
    ]
    by_shop = {e.shopid: e for e in app.published}
    assert all(e.data.kind is fb.BounceKind.HARD for e in app.published)
    assert by_shop["acme"].data.message.message_id == MESSAGE.message_id
    assert by_shop["bolt"].data.message is None  # bolt did not send it
    assert "550 5.1.1 user unknown" in (by_shop["acme"].data.diagnostic or "")
    assert app.sns.requested == [CERT_URL]
    store = app.parts.bounces.store
    assert [s.reason for s in await store.active("bolt", address="ada@example.com")] == [
        fb.SuppressionReason.HARD_BOUNCE
    ]


async def test_a_notification_sns_delivers_again_publishes_the_same_events(app: App) -> None:
    body = SIGNER.notification(bounce("ada@example.com"), version="2")
    first = await app.post(body)
    again = await app.post(body)
    assert first.status_code == again.status_code == 200
    ids = [e.id for e in app.published]
    assert len(ids) == 4 and ids[:2] == ids[2:]
    for event in app.published:  # what consumers read back
        assert parse_feedback_event(event.model_dump_json()) == event


async def test_a_complaint_concerns_the_shop_that_sent_the_message_only(app: App) -> None:
    body = SIGNER.notification(complaint("ada@example.com", message_id_header=MESSAGE_ID_HEADER))
    answer = await app.post(body)
    assert answer.json() == {"status": "accepted", "events": 1}
    assert kinds(app.published) == [("complaint.received", "acme", "ada")]
    held = await app.parts.bounces.store.active("acme", address="ada@example.com")
    assert [(s.scope, s.reason) for s in held] == [
        (fb.SuppressionScope.MARKETING, fb.SuppressionReason.COMPLAINT)
    ]


async def test_a_complaint_without_its_message_guesses_no_shop_among_several(app: App) -> None:
    shared = await app.post(SIGNER.notification(complaint("ada@example.com")))
    assert shared.json()["status"] == "ignored"
    alone = await app.post(SIGNER.notification(complaint("ben@example.com")))
    assert alone.json() == {"status": "accepted", "events": 1}
    assert kinds(app.published) == [("complaint.received", "acme", "ben")]


async def test_transient_bounces_suppress_the_address_at_the_limit_once() -> None:
    app = await make_app(soft_bounce_limit=3, soft_bounce_window_h=24)
    try:
        now = datetime.now(UTC)

        async def soft(minutes: int, message_id: str | None = None) -> list[str]:
            before = len(app.published)
            at = (now + timedelta(minutes=minutes)).isoformat()
            body = bounce("ben@example.com", bounce_type="Transient", at=at)
            answer = await app.post(SIGNER.notification(body, message_id=message_id))
            assert answer.status_code == 200, answer.text
            return [e.type for e in app.published[before:]]

        assert await soft(0, "n-1") == ["email.bounced"]
        assert await soft(1, "n-1") == ["email.bounced"]  # SNS again: counted once
        assert await soft(2) == ["email.bounced"]
        assert await soft(3) == ["email.bounced", "address.suppressed"]
        assert await soft(4) == ["email.bounced"]  # already suppressed
        suppressed = [e for e in app.published if e.type == "address.suppressed"]
        assert suppressed[0].data.reason is fb.SuppressionReason.SOFT_BOUNCES
        assert suppressed[0].data.scope is fb.SuppressionScope.ALL
        assert all(
            e.data.kind is fb.BounceKind.SOFT
            for e in app.published
            if e.type != "address.suppressed"
        )
    finally:
        await app.client.aclose()


async def test_deliveries_and_unknown_addresses_are_taken_and_ignored(app: App) -> None:
    for ses in (delivery("ada@example.com"), bounce("nobody@example.com")):
        answer = await app.post(SIGNER.notification(ses))
        assert answer.status_code == 200
        assert answer.json()["status"] == "ignored"
    assert app.published == []


async def test_forgeries_are_refused_naming_what_gave_them_away(app: App) -> None:
    genuine = SIGNER.notification(bounce("ada@example.com"))
    forged = {**genuine, "Message": json.dumps(bounce("ben@example.com"))}
    other_topic = SIGNER.sign({**genuine, "TopicArn": TOPIC_ARN.replace("nudge", "other")})
    foreign_cert = {**genuine, "SigningCertURL": "https://attacker.example/cert.pem"}
    for body, field in (
        (forged, "Signature"),
        (other_topic, "TopicArn"),
        (IMPOSTOR.notification(bounce("ada@example.com")), "SigningCertURL"),
        (foreign_cert, "SigningCertURL"),
    ):
        answer = await app.post(body)
        assert answer.status_code == 403, answer.text
        assert answer.headers["content-type"] == MEDIA_TYPE
        assert answer.json()["errors"][0]["field"] == field
    assert app.published == []
    assert set(app.sns.requested) == {CERT_URL, IMPOSTOR.cert_url}


async def test_a_subscription_is_confirmed_at_snss_host_only(app: App) -> None:
    confirmation = SIGNER.confirmation()
    answer = await app.post(confirmation, **{"x-amz-sns-message-type": "SubscriptionConfirmation"})
    assert answer.json() == {"status": "confirmed"}
    assert app.sns.requested[-1] == confirmation["SubscribeURL"]
    elsewhere = SIGNER.confirmation("https://attacker.example/?Action=ConfirmSubscription")
    answer = await app.post(elsewhere)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "SubscribeURL"
    assert "attacker.example" not in " ".join(app.sns.requested)
    unsubscribed = await app.post(SIGNER.confirmation(kind="UnsubscribeConfirmation"))
    assert unsubscribed.json() == {"status": "noted"}


async def test_without_auto_confirmation_the_url_is_only_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = await make_app(sns_auto_confirm=False)
    try:
        confirmation = SIGNER.confirmation()
        answer = await app.post(confirmation)
        assert answer.json() == {"status": "logged"}
        assert confirmation["SubscribeURL"] not in app.sns.requested
        assert confirmation["SubscribeURL"] in caplog.text
    finally:
        await app.client.aclose()


async def test_bad_bodies_get_problems_naming_the_field(app: App) -> None:
    signed = SIGNER.notification(bounce("ada@example.com"))
    cases: list[tuple[bytes, dict[str, str], int, str | None]] = [
        (b"not json", {}, 400, None),
        (b"[]", {}, 422, "(body)"),
        (json.dumps({**signed, "Type": "Hello"}).encode(), {}, 422, "Type"),
        (json.dumps(signed).encode(), {"content-type": "application/xml"}, 415, None),
        (json.dumps({**signed, "Subject": "a\u0000b"}).encode(), {}, 422, "Subject"),
        (json.dumps(SIGNER.notification("not json")).encode(), {}, 422, "Message"),
        (json.dumps(SIGNER.notification({"mail": {}})).encode(), {}, 422, "Message"),
    ]
    for body, headers, status, field in cases:
        answer = await app.post(body, **headers)
        assert answer.status_code == status, (body[:60], answer.text)
        assert answer.headers["content-type"] == MEDIA_TYPE
        if field is not None:
            assert answer.json()["errors"][0]["field"] == field
    json_typed = await app.post(signed, **{"content-type": "application/json"})
    assert json_typed.status_code == 200


async def test_when_kafka_does_not_answer_the_notification_is_not_taken(app: App) -> None:
    publisher = app.parts.publisher
    assert isinstance(publisher, RecordingPublisher)
    publisher.failure = BrokerUnavailable("kafka did not acknowledge within 5s")
    answer = await app.post(SIGNER.notification(bounce("ada@example.com")))
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"
    assert await app.parts.bounces.store.active("acme", address="ada@example.com") == []
