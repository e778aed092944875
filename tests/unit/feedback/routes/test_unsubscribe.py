"""`/u/<token>` through the app with fakes: one-click POSTs as mailbox providers send them,
refused links, the page (which never publishes), the forms, CSRF refusals, escaping."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from services.feedback.directory import ConsentFact, ContactFacts, ContactRef
from services.feedback.directory.memory import MemoryDirectory
from services.feedback.parts import Parts
from shared import signed_links
from shared.events.feedback import ConsentGrantedEvent, ConsentWithdrawnEvent
from shared.events.shop import Channel
from shared.keyring import LinkKeys, MasterKey, MasterKeyRing
from shared.problem_details import MEDIA_TYPE
from shared.publisher import BrokerUnavailable
from shared.unsubscribe import Unsubscribe, sign
from tests.support.dispatch_process import TEST_LINK_KEYS
from tests.support.feedback_process import RecordingPublisher, create_app, fake_parts

REF = ContactRef("acme", "c1")
FORM = "application/x-www-form-urlencoded"
GMAIL = {"content-type": FORM, "user-agent": "Mozilla/5.0 (compatible; Gmail one-click)"}
ONE_CLICK = b"List-Unsubscribe=One-Click"
BROWSER = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
OLDER = MasterKey("k-old", SecretStr("o" * 40))
ROTATED = LinkKeys((*TEST_LINK_KEYS.keys, *MasterKeyRing((OLDER,), "t").link_keys().keys), "ring")
"""The tests' active link key and an older one still in the ring."""


def token_for(
    customer: str = "c1", channel: str = "email", shop: str = "acme", keys: LinkKeys = ROTATED
) -> str:
    return sign(keys, Unsubscribe(shop, customer, channel))


TOKEN = token_for()


class Feedback:
    """The app with an in-memory directory and a recording publisher."""

    def __init__(self, client: httpx.AsyncClient, parts: Parts) -> None:
        self.client = client
        self.parts = parts

    @property
    def publisher(self) -> RecordingPublisher:
        assert isinstance(self.parts.publisher, RecordingPublisher)
        return self.parts.publisher

    @property
    def directory(self) -> MemoryDirectory:
        assert isinstance(self.parts.directory, MemoryDirectory)
        return self.parts.directory

    async def know(self, ref: ContactRef = REF, **facts: Any) -> None:
        await self.directory.record([ContactFacts(ref, **facts)], [])

    async def page(self, token: str = TOKEN) -> httpx.Response:
        return await self.client.get(f"/u/{token}", headers=BROWSER)

    async def submit(
        self, token: str, fields: dict[str, str], headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return await self.client.post(
            f"/u/{token}/preferences",
            data=fields,
            headers={**BROWSER, "origin": "http://feedback", **(headers or {})},
        )


@pytest.fixture
async def feedback() -> AsyncIterator[Feedback]:
    parts = dataclasses.replace(fake_parts(public_url="http://feedback"), link_keys=ROTATED)
    app = create_app(parts)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as client:
        yield Feedback(client, parts)


def nonce_of(page: httpx.Response) -> str:
    found = re.search(r'name="form" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


# --- one click -------------------------------------------------------------------------------


async def test_one_click_withdraws_the_links_channel_and_answers_200(feedback: Feedback) -> None:
    answer = await feedback.client.post(f"/u/{TOKEN}", content=ONE_CLICK, headers=GMAIL)
    assert answer.status_code == 200
    assert answer.json() == {"status": "unsubscribed", "channel": "email"}
    assert "set-cookie" not in answer.headers and "location" not in answer.headers
    (event,) = feedback.publisher.published
    assert isinstance(event, ConsentWithdrawnEvent)
    assert (event.key, event.data.channel, event.data.source) == (
        "acme:c1",
        Channel.EMAIL,
        "one_click",
    )


async def test_a_link_signed_with_an_older_key_of_the_ring_still_works(feedback: Feedback) -> None:
    old = token_for(keys=MasterKeyRing((OLDER,), "t").link_keys())
    answer = await feedback.client.post(f"/u/{old}", content=ONE_CLICK, headers=GMAIL)
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"content-type": f"{FORM}; charset=UTF-8"}, ONE_CLICK),
        ({"content-type": FORM}, ONE_CLICK + b"\r\n"),
        ({}, ONE_CLICK),
        (
            {"content-type": "multipart/form-data; boundary=xYzZY"},
            b'--xYzZY\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
            b"One-Click\r\n--xYzZY--\r\n",
        ),
    ],
)
async def test_one_click_bodies_as_the_rfc_allows(
    feedback: Feedback, headers: dict[str, str], body: bytes
) -> None:
    answer = await feedback.client.post(f"/u/{TOKEN}", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert len(feedback.publisher.published) == 1


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        (GMAIL, b"", 422),
        (GMAIL, b"List-Unsubscribe=Yes", 422),
        ({"content-type": "application/json"}, b'{"List-Unsubscribe":"One-Click"}', 415),
        (GMAIL, b"List-Unsubscribe=One-Click&x=%00", 422),
        (GMAIL, b"List-Unsubscribe=One-Click&pad=" + b"x" * 20_000, 413),
    ],
)
async def test_a_body_that_is_not_one_click_is_refused_and_nothing_published(
    feedback: Feedback, headers: dict[str, str], body: bytes, status: int
) -> None:
    answer = await feedback.client.post(f"/u/{TOKEN}", content=body, headers=headers)
    assert answer.status_code == status
    assert answer.headers["content-type"] == MEDIA_TYPE
    assert feedback.publisher.published == []


def _bad_tokens() -> list[Any]:
    kid, payload, mac = TOKEN.split(".")
    other = token_for("c2").split(".")[1]
    foreign = MasterKeyRing((MasterKey("k0", SecretStr("z" * 40)),), "x").link_keys()
    return [
        pytest.param("garbage", id="forged"),
        pytest.param(f"{kid}.{other}.{mac}", id="tampered-payload"),
        pytest.param(f"k-old.{payload}.{mac}", id="tampered-kid"),
        pytest.param(f"nokey.{payload}.{mac}", id="unknown-kid"),
        pytest.param(token_for(keys=foreign), id="another-deployment-or-retired"),
        pytest.param(
            signed_links.sign(ROTATED, "survey", b"acme\x1fc1\x1femail"),
            id="wrong-kind",
        ),
        pytest.param(token_for(channel="push"), id="unknown-channel"),
        pytest.param("k0." + "A" * 5000, id="overlong"),
        pytest.param("%00", id="nul"),
    ]


@pytest.mark.parametrize("token", _bad_tokens())
async def test_a_link_that_is_not_ours_is_a_404_and_nothing_is_published(
    feedback: Feedback, token: str
) -> None:
    posted = await feedback.client.post(f"/u/{token}", content=ONE_CLICK, headers=GMAIL)
    assert posted.status_code == 404
    assert posted.headers["content-type"] == MEDIA_TYPE
    assert "not valid" in posted.json()["detail"]
    shown = await feedback.page(token)
    assert shown.status_code == 404
    assert shown.headers["content-type"].startswith("text/html")  # a browser gets a page
    assert "<form" not in shown.text
    form = await feedback.submit(token, {"form": "x", "action": "unsubscribe"})
    assert form.status_code == 404
    assert feedback.publisher.published == []


async def test_a_repeated_one_click_is_the_same_event(feedback: Feedback) -> None:
    await feedback.know(email="ada@example.com", email_consent=ConsentFact(True, _ago(days=9)))
    for _ in range(2):
        answer = await feedback.client.post(f"/u/{TOKEN}", content=ONE_CLICK, headers=GMAIL)
        assert answer.status_code == 200
    first, second = feedback.publisher.published
    assert first.id == second.id  # consumers drop the second: no second effect


async def test_after_a_new_grant_one_click_is_a_new_event(feedback: Feedback) -> None:
    await feedback.know(email_consent=ConsentFact(True, _ago(days=9)))
    await feedback.client.post(f"/u/{TOKEN}", content=ONE_CLICK, headers=GMAIL)
    await feedback.know(email_consent=ConsentFact(True, _ago(minutes=1)))  # granted again
    await feedback.client.post(f"/u/{TOKEN}", content=ONE_CLICK, headers=GMAIL)
    first, second = feedback.publisher.published
    assert first.id != second.id


async def test_when_kafka_does_not_acknowledge_the_answer_is_503(feedback: Feedback) -> None:
    feedback.publisher.failure = BrokerUnavailable("kafka did not acknowledge within 5s")
    answer = await feedback.client.post(f"/u/{TOKEN}", content=ONE_CLICK, headers=GMAIL)
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "5"


async def test_one_click_does_not_wait_for_an_unavailable_directory(feedback: Feedback) -> None:
    async def broken(_: ContactRef) -> None:
        raise ConnectionRefusedError("postgres is down")

    feedback.directory.contact = broken  # type: ignore[method-assign,assignment]
    answer = await feedback.client.post(f"/u/{TOKEN}", content=ONE_CLICK, headers=GMAIL)
    assert answer.status_code == 200
    assert len(feedback.publisher.published) == 1
    page = await feedback.page()
    assert page.status_code == 503  # a page cannot be shown without the choices it shows
    assert "retry-after" in page.headers


# --- the page ----------------------------------------------------------------------------------


async def test_the_page_shows_the_choices_and_never_publishes(feedback: Feedback) -> None:
    await feedback.know(
        email="ada@example.com",
        phone="+31612345678",
        email_consent=ConsentFact(True, _ago(days=1)),
        sms_consent=ConsentFact(False, _ago(days=1)),
    )
    for _ in range(3):  # a link scanner, a preview, the customer
        page = await feedback.page()
        assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "same-origin"
    assert re.search(r'name="email" value="on" checked', page.text)
    assert re.search(r'name="sms" value="on">', page.text)  # shown, not ticked
    assert "a\u2022\u2022\u2022@example.com" in page.text and "ada@example.com" not in page.text
    assert "\u2022\u2022\u2022\u2022 5678" in page.text
    assert "<script" not in page.text and "http" not in page.text.split("<body>")[1]
    head = await feedback.client.get(f"/u/{TOKEN}")  # no Accept: the same page
    assert head.status_code == 200
    assert feedback.publisher.published == []


async def test_anything_shown_is_escaped(feedback: Feedback) -> None:
    await feedback.know(email='ada@"><script>alert(1)</script>.example', phone="+31612345678")
    page = await feedback.page()
    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "&#34;&gt;" in page.text  # the quote cannot close an attribute either


async def test_saving_publishes_a_change_per_channel_changed(feedback: Feedback) -> None:
    await feedback.know(
        email="ada@example.com",
        phone="+31612345678",
        email_consent=ConsentFact(True, _ago(days=1)),
        sms_consent=ConsentFact(False, _ago(days=1)),
    )
    nonce = nonce_of(await feedback.page())
    saved = await feedback.submit(TOKEN, {"form": nonce, "action": "save", "sms": "on"})
    assert saved.status_code == 200, saved.text
    assert "Your choices are saved" in saved.text
    withdrawn, granted = feedback.publisher.published
    assert isinstance(withdrawn, ConsentWithdrawnEvent) and isinstance(granted, ConsentGrantedEvent)
    assert (withdrawn.data.channel, granted.data.channel) == (Channel.EMAIL, Channel.SMS)
    assert {withdrawn.data.source, granted.data.source} == {"preference_center"}
    again = await feedback.submit(TOKEN, {"form": nonce, "action": "save", "sms": "on"})
    assert again.status_code == 200
    assert [e.id for e in feedback.publisher.published[2:]] == [withdrawn.id, granted.id]


async def test_confirming_withdraws_the_links_channel(feedback: Feedback) -> None:
    sms_token = token_for(channel="sms")
    await feedback.know(phone="+31612345678", sms_consent=ConsentFact(True, _ago(days=1)))
    nonce = nonce_of(await feedback.page(sms_token))
    done = await feedback.submit(sms_token, {"form": nonce, "action": "unsubscribe"})
    assert done.status_code == 200
    (event,) = feedback.publisher.published
    assert isinstance(event, ConsentWithdrawnEvent) and event.data.channel is Channel.SMS


async def test_saving_nothing_changed_publishes_nothing(feedback: Feedback) -> None:
    nonce = nonce_of(await feedback.page())
    done = await feedback.submit(TOKEN, {"form": nonce, "action": "save", "email": "on"})
    assert done.status_code == 200 and "Nothing changed" in done.text
    assert feedback.publisher.published == []


# --- CSRF ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_fields", "headers"),
    [
        (lambda nonce, other: {"action": "unsubscribe"}, {}),
        (lambda nonce, other: {"form": "k0.AAAA.BBBB", "action": "unsubscribe"}, {}),
        (lambda nonce, other: {"form": other, "action": "unsubscribe"}, {}),
        (
            lambda nonce, other: {"form": nonce, "action": "unsubscribe"},
            {"origin": "https://evil.example"},
        ),
        (
            lambda nonce, other: {"form": nonce, "action": "unsubscribe"},
            {"sec-fetch-site": "cross-site"},
        ),
    ],
    ids=["no-nonce", "forged-nonce", "another-links-nonce", "foreign-origin", "cross-site"],
)
async def test_a_forged_form_is_refused_and_nothing_published(
    feedback: Feedback,
    make_fields: Callable[[str, str], dict[str, str]],
    headers: dict[str, str],
) -> None:
    nonce = nonce_of(await feedback.page())
    other = nonce_of(await feedback.page(token_for("c2")))
    refused = await feedback.submit(TOKEN, make_fields(nonce, other), headers)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    json = await feedback.client.post(
        f"/u/{TOKEN}/preferences",
        data=make_fields(nonce, other),
        headers={"origin": "http://feedback", **headers},
    )
    assert json.status_code == 403 and json.headers["content-type"] == MEDIA_TYPE
    assert feedback.publisher.published == []


async def test_a_bad_choice_names_the_field(feedback: Feedback) -> None:
    nonce = nonce_of(await feedback.page())
    answer = await feedback.client.post(
        f"/u/{TOKEN}/preferences",
        data={"form": nonce, "action": "save", "email": "<b>maybe</b>"},
        headers={"origin": "http://feedback"},
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["field"] == "email"
    page = await feedback.submit(TOKEN, {"form": nonce, "action": "drop"})
    assert page.status_code == 422 and "<b>" not in page.text


def _ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


# --- no input gets a 500 -------------------------------------------------------------------------

_HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)


@settings(max_examples=300, deadline=None)
@given(
    token=st.one_of(st.sampled_from([TOKEN, token_for(channel="sms")]), st.text(max_size=80)),
    route=st.sampled_from(["one-click", "page", "form"]),
    body=st.one_of(
        st.binary(max_size=400),
        st.sampled_from([ONE_CLICK, b"form=k0.x.y&action=save&email=on", b"action=unsubscribe"]),
    ),
    content_type=st.one_of(
        st.sampled_from([FORM, "multipart/form-data; boundary=b", "text/plain"]), _HEADER_TEXT
    ),
    origin=st.one_of(st.none(), _HEADER_TEXT),
)
def test_no_input_gets_a_500(
    token: str, route: str, body: bytes, content_type: str, origin: str | None
) -> None:
    async def call() -> int:
        parts = fake_parts()
        transport = httpx.ASGITransport(app=create_app(parts))
        path = f"/u/{quote(token, safe='')}"
        headers = {"content-type": content_type, **({"origin": origin} if origin else {})}
        async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as client:
            if route == "page":
                answer = await client.get(path, headers=BROWSER)
            else:
                suffix = "/preferences" if route == "form" else ""
                answer = await client.post(path + suffix, content=body, headers=headers)
        return answer.status_code

    assert asyncio.run(call()) < 500
