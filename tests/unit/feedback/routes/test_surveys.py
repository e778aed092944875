"""`/s/<token>` through the app with fakes: the page (which never records), answers on both
scales, every refusal (off the scale, not a number, missing, comment too long, forged, expired,
another kind of token, CSRF), replays and changed answers, HEAD, tags, and the documentation."""

from __future__ import annotations

import dataclasses
import html
import re
import uuid
from collections.abc import AsyncIterator, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.feedback.directory import ContactFacts, ContactRef
from services.feedback.parts import Parts
from services.feedback.sms.profiles import SmsProfile, SmsProfiles
from services.feedback.surveys import form_nonce
from services.feedback.surveys.scores import latest_per_invitation, scored
from services.feedback.unsubscribe.preference_form import Shown
from services.feedback.unsubscribe.preference_form import issue as preference_nonce
from shared import survey_links, tracking_links
from shared.events.feedback import SurveyAnsweredEvent, SurveyKind
from shared.publisher import BrokerUnavailable
from shared.unsubscribe import Unsubscribe
from shared.unsubscribe import sign as sign_unsubscribe
from tests.support.clocks import PinnedClock
from tests.support.dispatch_process import TEST_LINK_KEYS
from tests.support.feedback_process import RecordingPublisher, create_app, fake_parts

NOW = datetime.now(UTC).replace(microsecond=0)
BROWSER = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
SAME_SITE = {**BROWSER, "origin": "http://feedback", "sec-fetch-site": "same-origin"}
MESSAGE = str(uuid.UUID(int=42))
CSAT = survey_links.Invitation(
    shop_id="demo-coffee",
    customer_id="c1",
    message_id=MESSAGE,
    campaign_id="review_request",
    survey=SurveyKind.CSAT,
    expires_at=NOW + timedelta(days=30),
    order_id="o-1001",
)
NPS = dataclasses.replace(CSAT, survey=SurveyKind.NPS, order_id=None, campaign_id="nps")
PROFILES = SmsProfiles(
    SmsProfile(brand="Nudge"), {"demo-coffee": SmsProfile(brand="Demo Coffee <Roasters>")}
)


def token(invitation: survey_links.Invitation = CSAT) -> str:
    return survey_links.sign(TEST_LINK_KEYS, invitation)


class Tagger:
    """Tags every comment `shipping`, and says what it was asked."""

    def __init__(self, fail: bool = False, tags: list[str] | None = None) -> None:
        self.calls: list[tuple[str, str | None, str]] = []
        self.fail = fail
        self.given = tags if tags is not None else ["shipping"]

    def tags(self, shop_id: str, language: str | None, text: str) -> list[str]:
        self.calls.append((shop_id, language, text))
        if self.fail:
            raise RuntimeError("dictionary broken")
        return self.given


class Survey:
    """The app with an in-memory directory, a recording publisher and a tagger."""

    def __init__(self, client: httpx.AsyncClient, app: FastAPI) -> None:
        self.client = client
        self.app = app

    @property
    def parts(self) -> Parts:
        found: Parts = self.app.state.parts
        return found

    def use(self, **changes: Any) -> None:
        """Replace some of the app's parts (a clock moved on, another tagger)."""
        self.app.state.parts = dataclasses.replace(self.parts, **changes)

    @property
    def publisher(self) -> RecordingPublisher:
        assert isinstance(self.parts.publisher, RecordingPublisher)
        return self.parts.publisher

    @property
    def answers(self) -> list[SurveyAnsweredEvent]:
        found = []
        for event in self.publisher.published:
            assert isinstance(event, SurveyAnsweredEvent)
            found.append(event)
        return found

    async def page(self, link: str | None = None) -> httpx.Response:
        return await self.client.get(f"/s/{link or token()}", headers=BROWSER)

    async def nonce(self, link: str | None = None) -> str:
        return nonce_of(await self.page(link))

    async def answer(
        self,
        fields: dict[str, str],
        link: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        link = link or token()
        if "form" not in fields:
            fields = {"form": await self.nonce(link), **fields}
        return await self.client.post(
            f"/s/{link}", data=fields, headers={**SAME_SITE, **(headers or {})}
        )


def nonce_of(page: httpx.Response) -> str:
    found = re.search(r'name="form" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


@pytest.fixture
async def survey() -> AsyncIterator[Survey]:
    parts = dataclasses.replace(
        fake_parts(public_url="http://feedback"), sms=PROFILES, tagger=Tagger()
    )
    app = create_app(parts)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as client:
        yield Survey(client, app)


def error_text(page: httpx.Response) -> str:
    """The page's visible text, tags stripped: what a reader sees."""
    body = page.text.split("</head>", 1)[-1]
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


# --- the page ---------------------------------------------------------------------------------


async def test_the_csat_page_is_an_accessible_form_and_records_nothing(survey: Survey) -> None:
    page = await survey.page()
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    markup = page.text
    assert '<html lang="en">' in markup
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in markup
    assert "<fieldset" in markup and "<legend>How satisfied are you with your order from" in markup
    assert "Demo Coffee &lt;Roasters&gt;" in markup  # the shop's name from its file, escaped
    radios = re.findall(r'<input type="radio" id="(score-\d+)" name="score" value="(\d+)"', markup)
    assert [value for _, value in radios] == ["1", "2", "3", "4", "5"]
    for control, _ in radios:  # every radio has its label
        assert f'<label class="option" for="{control}">' in markup
    assert '<label class="block" for="comment">' in markup
    assert 'maxlength="1000"' in markup and "Up to 1,000 characters" in markup
    assert (
        "<script" not in markup and "http" not in markup.split("</style>", 1)[1].split("<form")[0]
    )
    assert survey.publisher.published == []


async def test_the_nps_page_asks_on_a_scale_of_0_to_10(survey: Survey) -> None:
    markup = (await survey.page(token(NPS))).text
    values = re.findall(r'<input type="radio" id="score-\d+" name="score" value="(\d+)"', markup)
    assert values == [str(n) for n in range(11)]
    assert "How likely are you to recommend" in markup
    assert "0 = not at all likely" in markup and "10 = extremely likely" in markup


async def test_a_shop_without_a_name_in_its_file_is_named_by_its_id(survey: Survey) -> None:
    other = dataclasses.replace(CSAT, shop_id="bean_bar-amsterdam")
    assert "Bean Bar Amsterdam" in (await survey.page(token(other))).text
    digits = dataclasses.replace(CSAT, shop_id="shop-2eadd7ed3a")
    assert "Shop 2eadd7ed3a" in (await survey.page(token(digits))).text


async def test_head_answers_like_get_without_a_body(survey: Survey) -> None:
    get = await survey.page()
    head = await survey.client.head(f"/s/{token()}", headers=BROWSER)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == get.headers["content-length"]
    thanks = await survey.client.head(f"/s/{token()}/thanks")
    assert thanks.status_code == 200 and thanks.content == b""
    forged = await survey.client.head("/s/k0.bm90.aXQ")
    assert forged.status_code == 404 and forged.content == b""
    assert survey.publisher.published == []


async def test_head_sends_no_body_even_where_the_server_would_not_drop_it(
    survey: Survey,
) -> None:
    """httpx drops a HEAD answer's body itself: what the app sends, seen at the ASGI level."""
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "HEAD",
        "scheme": "http",
        "path": f"/s/{token()}",
        "raw_path": f"/s/{token()}".encode(),
        "query_string": b"",
        "headers": [(b"host", b"feedback")],
        "server": ("feedback", 80),
        "client": ("127.0.0.1", 1234),
        "root_path": "",
    }
    await survey.app(scope, receive, send)
    start, *bodies = sent
    assert start["status"] == 200
    assert b"".join(m.get("body", b"") for m in bodies) == b""


# --- answers ----------------------------------------------------------------------------------


async def test_an_answer_is_published_then_the_thank_you_page(survey: Survey) -> None:
    answer = await survey.answer({"score": "2", "comment": "  Parcel came late\r\nand dented "})
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/s/{token()}/thanks"
    assert answer.headers["cache-control"] == "no-store"
    (event,) = survey.answers
    assert event.key == "demo-coffee:c1"
    assert event.source == "/shops/demo-coffee/survey"
    data = event.data
    assert (data.survey, data.score, data.order_id) == (SurveyKind.CSAT, 2, "o-1001")
    assert data.comment == "Parcel came late\nand dented"
    assert data.tags == ["shipping"]
    assert data.message is not None
    assert (data.message.message_id, data.message.campaign_id) == (MESSAGE, "review_request")
    thanks = await survey.client.get(answer.headers["location"], headers=BROWSER)
    assert thanks.status_code == 200
    assert "Your answer is recorded" in thanks.text
    assert f'href="/s/{token()}"' in thanks.text  # answer again


async def test_an_nps_detractor_and_a_promoter_are_on_their_scale(survey: Survey) -> None:
    for score in ("0", "10"):
        assert (await survey.answer({"score": score}, token(NPS))).status_code == 303
    assert [(e.data.survey, e.data.score) for e in survey.answers] == [
        (SurveyKind.NPS, 0),
        (SurveyKind.NPS, 10),
    ]
    assert survey.answers[0].data.comment is None and survey.answers[0].data.tags == []


async def test_a_replayed_post_is_the_same_event(survey: Survey) -> None:
    nonce = await survey.nonce()
    fields = {"form": nonce, "score": "5", "comment": "Lovely"}
    first = await survey.answer(fields)
    again = await survey.answer(fields)  # a double click, a refresh that posts again
    assert first.status_code == again.status_code == 303
    one, two = survey.answers
    assert one.id == two.id
    assert one.data == two.data


async def test_a_second_answer_replaces_the_first(survey: Survey) -> None:
    await survey.answer({"score": "2", "comment": "Late"})
    survey.use(clock=PinnedClock(datetime.now(UTC) + timedelta(minutes=5)))
    await survey.answer({"score": "4", "comment": "They sent a new one"})
    first, second = survey.answers
    assert first.id != second.id and second.time > first.time
    (counted,) = latest_per_invitation(scored(e) for e in survey.answers)
    assert (counted.score, counted.event_id) == (4, second.id)


async def test_the_same_answer_given_again_on_a_new_page_is_a_new_event(survey: Survey) -> None:
    """A, then B, then A again must end on A: an id from the content alone would drop the
    third as a repeat of the first."""
    for score in ("3", "5", "3"):
        assert (await survey.answer({"score": score})).status_code == 303
    ids = [e.id for e in survey.answers]
    assert len(set(ids)) == 3


@pytest.mark.parametrize(
    ("invitation", "score", "reason"),
    [
        (CSAT, "0", "out of range: choose a whole number from 1 to 5"),
        (CSAT, "6", "out of range: choose a whole number from 1 to 5"),
        (NPS, "11", "out of range: choose a whole number from 0 to 10"),
        (NPS, "-1", "not a whole number from 0 to 10"),
        (CSAT, "4.5", "not a whole number from 1 to 5"),
        (CSAT, "four", "not a whole number from 1 to 5"),
        (CSAT, "+4", "not a whole number from 1 to 5"),
        (CSAT, "\u0663", "not a whole number from 1 to 5"),  # ARABIC-INDIC DIGIT THREE
        (CSAT, "1e0", "not a whole number from 1 to 5"),
        (NPS, "100", "not a whole number from 0 to 10"),
        (CSAT, "", "required: choose a whole number from 1 to 5"),
    ],
)
async def test_a_score_off_the_scale_shows_the_page_again_naming_the_field(
    survey: Survey, invitation: survey_links.Invitation, score: str, reason: str
) -> None:
    page = await survey.answer({"score": score, "comment": "<b>kept</b>"}, token(invitation))
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert f'<p class="error" id="score-error">{reason}</p>' in page.text
    assert "Your score" in error_text(page)
    assert ">&lt;b&gt;kept&lt;/b&gt;</textarea>" in page.text  # what was typed, escaped
    assert nonce_of(page)  # a fresh form to answer with
    assert survey.publisher.published == []


async def test_a_missing_score_is_422_naming_it(survey: Survey) -> None:
    page = await survey.answer({"comment": "no score"})
    assert page.status_code == 422
    assert "required: choose a whole number from 1 to 5" in page.text


async def test_two_different_scores_in_one_form_are_422(survey: Survey) -> None:
    nonce = await survey.nonce()
    page = await survey.client.post(
        f"/s/{token()}",
        content=f"form={nonce}&score=1&score=5",
        headers={**SAME_SITE, "content-type": "application/x-www-form-urlencoded"},
    )
    assert page.status_code == 422 and "sent more than once" in page.text


async def test_a_checked_radio_is_kept_when_the_comment_is_refused(survey: Survey) -> None:
    page = await survey.answer({"score": "4", "comment": "x" * 1001})
    assert page.status_code == 422
    assert "at most 1,000 characters (this one has 1,001)" in page.text
    assert 'value="4" required checked>' in page.text
    assert 'aria-invalid="true"' in page.text
    assert survey.publisher.published == []


async def test_a_comment_at_the_limit_is_taken_counting_a_line_break_once(survey: Survey) -> None:
    comment = "a" * 499 + "\r\n" + "b" * 500  # 1,000 characters as the browser counted them
    assert (await survey.answer({"score": "4", "comment": comment})).status_code == 303
    (event,) = survey.answers
    assert event.data.comment is not None and len(event.data.comment) == 1000


async def test_a_nul_in_the_comment_is_refused_naming_the_field(survey: Survey) -> None:
    page = await survey.answer({"score": "4", "comment": "a\x00b"})
    assert page.status_code == 422 and "comment" in error_text(page).lower()
    assert survey.publisher.published == []


# --- links ------------------------------------------------------------------------------------


def _tampered() -> str:
    kid, _payload, mac = token().split(".")
    other = token(dataclasses.replace(CSAT, customer_id="c2")).split(".")[1]
    return f"{kid}.{other}.{mac}"


@pytest.mark.parametrize(
    "link",
    [
        pytest.param(_tampered(), id="tampered"),
        pytest.param("not-a-token", id="garbage"),
        pytest.param("k0." + "A" * 2000 + ".x", id="too-long"),
        pytest.param(
            tracking_links.sign_click(
                TEST_LINK_KEYS,
                tracking_links.Click(
                    tracking_links.Tracked("demo-coffee", "c1", MESSAGE), "https://shop.example"
                ),
            ),
            id="click-token",
        ),
        pytest.param(
            sign_unsubscribe(TEST_LINK_KEYS, Unsubscribe("demo-coffee", "c1", "email")),
            id="unsubscribe-token",
        ),
        pytest.param(token(dataclasses.replace(CSAT, shop_id="Not A Shop")), id="bad-shop-id"),
        pytest.param(token(dataclasses.replace(CSAT, order_id=" o-1")), id="untrimmed-order"),
    ],
)
async def test_a_link_we_did_not_issue_is_a_page_that_says_so_without_detail(
    survey: Survey, link: str
) -> None:
    for answer in (
        await survey.client.get(f"/s/{link}", headers=BROWSER),
        await survey.client.post(f"/s/{link}", data={"score": "5"}, headers=SAME_SITE),
        await survey.client.get(f"/s/{link}/thanks", headers=BROWSER),
    ):
        assert answer.status_code == 404
        assert answer.headers["content-type"].startswith("text/html")
        text = error_text(answer)
        assert "This survey link is not valid" in text
        assert "altered" not in text and "kind" not in text and "key" not in text
    assert survey.publisher.published == []


async def test_an_expired_invitation_says_the_survey_has_closed(survey: Survey) -> None:
    expired = token(dataclasses.replace(CSAT, expires_at=NOW - timedelta(seconds=1)))
    page = await survey.client.get(f"/s/{expired}", headers=BROWSER)
    assert page.status_code == 410
    assert "This survey has closed" in page.text
    posted = await survey.client.post(f"/s/{expired}", data={"score": "5"}, headers=SAME_SITE)
    assert posted.status_code == 410
    thanks = await survey.client.get(f"/s/{expired}/thanks", headers=BROWSER)
    assert thanks.status_code == 200 and "Answer again" not in thanks.text
    assert survey.publisher.published == []


async def test_expiry_is_read_on_the_services_clock(survey: Survey) -> None:
    """Dispatch signs the expiry on the campaign clock (scaled in demos), as events are."""
    survey.use(clock=PinnedClock(CSAT.expires_at))
    assert (await survey.page()).status_code == 410
    survey.use(clock=PinnedClock(CSAT.expires_at - timedelta(seconds=1)))
    assert (await survey.page()).status_code == 200


# --- CSRF -------------------------------------------------------------------------------------


async def test_a_post_without_the_pages_nonce_is_refused(survey: Survey) -> None:
    posted = await survey.client.post(f"/s/{token()}", data={"score": "5"}, headers=SAME_SITE)
    assert posted.status_code == 403
    assert "the form field 'form' is missing" in error_text(posted).lower()
    assert survey.publisher.published == []


async def test_a_nonce_of_another_link_or_forged_or_of_another_kind_is_refused(
    survey: Survey,
) -> None:
    other_link = await survey.nonce(token(NPS))
    forged = nonce_of(await survey.page())[:-4] + "AAAA"
    preference = preference_nonce(TEST_LINK_KEYS, token(), Shown(()), datetime.now(UTC))
    for nonce, reason in (
        (other_link, "the form was issued for another link"),
        (forged, "the form was not issued by this service"),
        (preference, "the form was not issued by this service"),
    ):
        posted = await survey.answer({"form": nonce, "score": "5"})
        assert posted.status_code == 403 and reason in error_text(posted).lower(), nonce
    assert survey.publisher.published == []


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"sec-fetch-site": "cross-site"},
        {"origin": "http://feedback.evil.example"},
    ],
)
async def test_a_cross_site_submission_is_refused(survey: Survey, headers: dict[str, str]) -> None:
    posted = await survey.answer({"score": "1"}, headers=headers)
    assert posted.status_code == 403
    assert survey.publisher.published == []


async def test_a_page_open_too_long_is_shown_again_with_the_answer_kept(survey: Survey) -> None:
    old = form_nonce.issue(TEST_LINK_KEYS, token(), datetime.now(UTC) - timedelta(hours=25))
    posted = await survey.answer({"form": old, "score": "3", "comment": "still here"})
    assert posted.status_code == 403
    assert "open for a long time" in posted.text
    assert 'value="3" required checked>' in posted.text and ">still here</textarea>" in posted.text
    assert nonce_of(posted) != old
    assert survey.publisher.published == []


# --- failures of others -----------------------------------------------------------------------


async def test_the_broker_away_is_503_with_retry_after_and_the_retry_is_the_same_event(
    survey: Survey,
) -> None:
    fields = {"form": await survey.nonce(), "score": "1", "comment": "Broken"}
    survey.publisher.failure = BrokerUnavailable("no acknowledgement in 5 s")
    refused = await survey.answer(fields)
    assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
    assert "not recorded yet" in refused.text
    survey.publisher.failure = None
    assert (await survey.answer(fields)).status_code == 303
    (event,) = survey.answers
    assert event.data.score == 1


async def test_the_comment_is_tagged_in_the_customers_language(survey: Survey) -> None:
    ref = ContactRef("demo-coffee", "c1")
    await survey.parts.directory.record([ContactFacts(ref, locale="nl-NL")], [])
    await survey.answer({"score": "2", "comment": "Te laat bezorgd"})
    tagger = survey.parts.tagger
    assert isinstance(tagger, Tagger)
    assert tagger.calls == [("demo-coffee", "nl-NL", "Te laat bezorgd")]
    await survey.answer({"score": "5"})  # nothing to tag: the tagger is not asked
    assert len(tagger.calls) == 1


async def test_an_unknown_customer_is_tagged_in_the_shops_default_language(survey: Survey) -> None:
    await survey.answer({"score": "2", "comment": "Late"})
    tagger = survey.parts.tagger
    assert isinstance(tagger, Tagger) and tagger.calls == [("demo-coffee", None, "Late")]


async def test_a_failing_tagger_or_bad_tags_never_cost_the_answer(survey: Survey) -> None:
    survey.use(tagger=Tagger(fail=True))
    assert (await survey.answer({"score": "2", "comment": "Late"})).status_code == 303
    survey.use(tagger=Tagger(tags=["Shipping!", "price", "price", *(f"t{n}" for n in range(30))]))
    assert (await survey.answer({"score": "2", "comment": "Late"})).status_code == 303
    untagged, tagged = survey.answers
    assert untagged.data.tags == []
    assert tagged.data.tags[0] == "price" and len(tagged.data.tags) == 20
    assert "Shipping!" not in tagged.data.tags


# --- the document and random forms ------------------------------------------------------------


async def test_the_survey_routes_are_documented_with_every_answer(survey: Survey) -> None:
    document = (await survey.client.get("/openapi.json")).json()
    page = document["paths"]["/s/{token}"]
    assert {"200", "404", "410"} <= set(page["get"]["responses"])
    assert {"200", "404", "410"} <= set(page["head"]["responses"])
    assert {"303", "400", "403", "404", "410", "413", "415", "422", "503"} <= set(
        page["post"]["responses"]
    )
    thanks = document["paths"]["/s/{token}/thanks"]
    assert {"200", "404"} <= set(thanks["get"]["responses"])


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    score=st.one_of(st.none(), st.text(max_size=5), st.integers(-20, 20).map(str)),
    comment=st.one_of(st.none(), st.text(max_size=1100)),
    extra=st.dictionaries(st.text(max_size=10), st.text(max_size=10), max_size=3),
)
async def test_no_form_gets_a_500(
    score: str | None, comment: str | None, extra: dict[str, str]
) -> None:
    parts = dataclasses.replace(fake_parts(public_url="http://feedback"), tagger=Tagger())
    transport = httpx.ASGITransport(app=create_app(parts))
    async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as client:
        page = await client.get(f"/s/{token()}")
        fields = {**extra, "form": nonce_of(page)}
        if score is not None:
            fields["score"] = score
        if comment is not None:
            fields["comment"] = comment
        answer = await client.post(f"/s/{token()}", data=fields, headers=SAME_SITE)
    assert answer.status_code in (303, 400, 422), answer.text
    assert answer.status_code == 303 or answer.headers["content-type"].startswith("text/html")
