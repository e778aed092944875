"""Performing replies against a fake feedback service (an httpx mock transport): what each
request looks like (a browser's click and survey form, RFC 8058's POST, Twilio's signed
webhook), retries on 5xx, a 4xx kept as a failure with its reason."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

import httpx
import pytest

from services.simulator.answers import (
    BROWSER,
    FAILED,
    GAVE_UP,
    NO_LINK,
    OK,
    Answerer,
    AnswerOptions,
    Outcome,
    inbound_sid,
)
from services.simulator.population import Customer, Mix, customer
from services.simulator.received import Received
from services.simulator.replies import Reply, ReplyKind, nps_score
from shared import twilio_signature
from shared.tracking_links import Click, Tracked, sign_click
from tests.support.dispatch_process import TEST_LINK_KEYS

FEEDBACK = "http://feedback.test:8083"
TOKEN = "sms-sink-token"
MESSAGE = str(uuid.UUID(int=9))
PERSON: Customer = customer(7, ("sim-native",), 4, Mix(phone_share=1.0))
AT = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SURVEY_PAGE = """<!doctype html><html><body><h1>How likely...</h1>
<form method="post" action="/s/k0.tok.mac">
  <input type="hidden" name="form" value="nonce-123">
  <fieldset>{options}</fieldset>
  <textarea name="comment"></textarea>
  <button type="submit">Send my answer</button>
</form></body></html>"""


def link(target: str) -> str:
    click = Click(Tracked("sim-native", PERSON.customer_id, MESSAGE), target)
    return f"{FEEDBACK}/c/{sign_click(TEST_LINK_KEYS, click)}"


PRODUCT = link("https://sim-native.example.com/products/cups")
SURVEY = link(f"{FEEDBACK}/s/k0.tok.mac")
ONE_CLICK = f"{FEEDBACK}/u/k0.unsub.mac"


def email(**changes: object) -> Received:
    fields: dict[str, object] = {
        "channel": "email",
        "message_id": MESSAGE,
        "to": PERSON.email,
        "received_at": AT,
        "links": (PRODUCT, SURVEY),
        "one_click": ONE_CLICK,
        **changes,
    }
    return Received(**fields)  # type: ignore[arg-type]


def text(links: tuple[str, ...] = ()) -> Received:
    assert PERSON.phone is not None
    return Received("sms", MESSAGE, PERSON.phone, AT, links, sender="+15005550006")


class Feedback:
    """Records every request; `answer` decides the response."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self._answer = answer

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._answer(request)


class Waits:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


async def perform(
    answer: Callable[[httpx.Request], httpx.Response],
    message: Received,
    reply: Reply,
    *,
    give_up_after_s: float = 60.0,
    token: str | None = TOKEN,
) -> tuple[Feedback, Outcome, Waits]:
    feedback = Feedback(answer)
    waits = Waits()
    async with httpx.AsyncClient(transport=httpx.MockTransport(feedback.handle)) as client:
        options = AnswerOptions(FEEDBACK, token, give_up_after_s=give_up_after_s)
        answerer = Answerer(client, options, sleep=waits.sleep, monotonic=waits.monotonic)
        outcome = await answerer.perform(PERSON, message, reply)
    return feedback, outcome, waits


CLICK = Reply(ReplyKind.CLICK, timedelta(minutes=5))
STOP = Reply(ReplyKind.STOP, timedelta(minutes=5))
UNSUBSCRIBE = Reply(ReplyKind.UNSUBSCRIBE, timedelta(minutes=5))


async def test_a_click_follows_the_product_link_as_a_browser() -> None:
    feedback, outcome, _ = await perform(
        lambda r: httpx.Response(302, headers={"location": "https://shop/products/cups"}),
        email(),
        CLICK,
    )
    (request,) = feedback.requests
    assert (request.method, str(request.url)) == ("GET", PRODUCT)
    assert request.headers["user-agent"] == BROWSER
    assert outcome.outcome == OK and outcome.status == 302


@pytest.mark.parametrize(("values", "expected"), [(range(1, 6), 4), (range(11), nps_score(4))])
async def test_a_survey_is_answered_through_its_page_and_form(values: range, expected: int) -> None:
    options = "".join(f'<input type="radio" name="score" value="{v}">' for v in values)

    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, html=SURVEY_PAGE.format(options=options))
        return httpx.Response(303, headers={"location": "/s/k0.tok.mac/thanks"})

    reply = Reply(ReplyKind.SURVEY, timedelta(hours=2), score=4)
    feedback, outcome, _ = await perform(answer, email(), reply)
    assert [(r.method, r.url.path) for r in feedback.requests] == [
        ("GET", "/s/k0.tok.mac"),  # where the link leads, without the click on the way
        ("POST", "/s/k0.tok.mac"),
    ]
    post = feedback.requests[-1]
    form = dict(parse_qsl(post.content.decode(), keep_blank_values=True))
    assert form == {"form": "nonce-123", "score": str(expected), "comment": ""}
    assert post.headers["origin"] == FEEDBACK
    assert post.headers["sec-fetch-site"] == "same-origin"
    assert outcome.outcome == OK and outcome.score == expected


async def test_a_survey_sent_by_text_without_a_link_is_answered_by_a_bare_score() -> None:
    reply = Reply(ReplyKind.SURVEY, timedelta(hours=2), score=5)
    feedback, outcome, _ = await perform(lambda r: httpx.Response(200), text(), reply)
    (request,) = feedback.requests
    assert request.url.path == "/sms/inbound"
    assert dict(parse_qsl(request.content.decode()))["Body"] == "5"
    assert outcome.outcome == OK


async def test_an_email_survey_without_a_link_is_not_answered() -> None:
    reply = Reply(ReplyKind.SURVEY, timedelta(hours=2), score=5)
    feedback, outcome, _ = await perform(
        lambda r: httpx.Response(200), email(links=(PRODUCT,)), reply
    )
    assert feedback.requests == [] and outcome.outcome == NO_LINK


async def test_stop_is_twilios_signed_webhook_from_the_customers_phone() -> None:
    feedback, outcome, _ = await perform(lambda r: httpx.Response(200), text(), STOP)
    (request,) = feedback.requests
    url = f"{FEEDBACK}/sms/inbound"
    assert str(request.url) == url
    params = parse_qsl(request.content.decode())
    fields = dict(params)
    assert fields["From"] == PERSON.phone and fields["Body"] == "STOP"
    assert fields["To"] == "+15005550006"
    assert fields["MessageSid"] == inbound_sid(MESSAGE, ReplyKind.STOP)
    signature = request.headers[twilio_signature.HEADER]
    assert twilio_signature.is_valid([TOKEN], url, params, signature)
    assert not twilio_signature.is_valid(["another"], url, params, signature)
    assert outcome.outcome == OK


async def test_without_a_token_no_text_is_sent() -> None:
    feedback, outcome, _ = await perform(lambda r: httpx.Response(200), text(), STOP, token=None)
    assert feedback.requests == [] and outcome.outcome == FAILED


async def test_one_click_unsubscribe_posts_rfc_8058s_body() -> None:
    feedback, outcome, _ = await perform(lambda r: httpx.Response(200), email(), UNSUBSCRIBE)
    (request,) = feedback.requests
    assert (request.method, str(request.url)) == ("POST", ONE_CLICK)
    assert request.content == b"List-Unsubscribe=One-Click"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "cookie" not in request.headers
    assert outcome.outcome == OK
    feedback, outcome, _ = await perform(
        lambda r: httpx.Response(200), email(one_click=None), UNSUBSCRIBE
    )
    assert feedback.requests == [] and outcome.outcome == NO_LINK


async def test_5xx_and_transport_errors_are_retried_with_a_growing_backoff() -> None:
    answers: Iterator[httpx.Response | str] = iter(
        [httpx.Response(503), "boom", httpx.Response(502), httpx.Response(200)]
    )

    def answer(request: httpx.Request) -> httpx.Response:
        given = next(answers)
        if isinstance(given, str):
            raise httpx.ConnectError(given, request=request)
        return given

    feedback, outcome, waits = await perform(answer, email(), UNSUBSCRIBE)
    assert len(feedback.requests) == 4
    assert outcome.outcome == OK and outcome.attempts == 4
    assert len(waits.sleeps) == 3
    assert waits.sleeps[2] > waits.sleeps[0]  # 0.25 s then 1 s, each jittered by half at most


async def test_a_4xx_is_a_failed_reply_with_its_reason() -> None:
    problem = {"title": "Gone", "detail": "this survey has closed"}
    feedback, outcome, waits = await perform(
        lambda r: httpx.Response(410, json=problem), email(), UNSUBSCRIBE
    )
    assert len(feedback.requests) == 1 and waits.sleeps == []
    assert outcome.outcome == FAILED
    assert (outcome.status, outcome.detail) == (410, "this survey has closed")


async def test_a_service_still_failing_is_given_up_on() -> None:
    feedback, outcome, waits = await perform(
        lambda r: httpx.Response(503, headers={"retry-after": "2"}),
        email(),
        UNSUBSCRIBE,
        give_up_after_s=10,
    )
    assert outcome.outcome == GAVE_UP and outcome.status == 503
    assert 4 <= len(feedback.requests) <= 11 and sum(waits.sleeps) <= 10
