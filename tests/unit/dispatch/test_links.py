"""The links dispatch signs: survey invitations, tracked clicks, the open pixel; what click
tracking leaves alone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.dispatch.links import LinkSigner
from services.dispatch.settings import DispatchSettings
from shared import survey_links
from shared.events.feedback import SurveyKind
from shared.survey_links import Expired, Invitation
from shared.tracking_links import Click, Tracked, verify_click, verify_open
from tests.support.dispatch_process import TEST_LINK_KEYS
from tests.unit.dispatch_templates.builders import trigger

PUBLIC = "https://feedback.example"
NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)
SIGNER = LinkSigner(TEST_LINK_KEYS, PUBLIC, timedelta(days=30))
TRACKED = Tracked("acme-coffee", "c1", str(uuid.uuid4()))


def token_of(url: str, path: str) -> str:
    assert url.startswith(f"{PUBLIC}/{path}/"), url
    return url.removeprefix(f"{PUBLIC}/{path}/")


def test_a_step_that_asks_for_an_answer_gets_a_signed_invitation_for_its_order() -> None:
    fired = trigger("review/request").model_copy(update={"survey": SurveyKind.NPS})
    url = SIGNER.survey_url(fired, TRACKED, NOW)
    assert url is not None
    found = survey_links.verify(TEST_LINK_KEYS, token_of(url, "s"), NOW)
    assert found == Invitation(
        shop_id="acme-coffee",
        customer_id="c1",
        message_id=TRACKED.message_id,
        campaign_id="review_request",
        survey=SurveyKind.NPS,
        expires_at=NOW + timedelta(days=30),
        order_id="o-1001",
    )
    later = survey_links.verify(TEST_LINK_KEYS, token_of(url, "s"), NOW + timedelta(days=30))
    assert isinstance(later, Expired)


def test_without_an_order_the_shipments_order_is_the_one_asked_about() -> None:
    fired = trigger("review/request").model_copy(update={"survey": SurveyKind.CSAT})
    fired = fired.model_copy(update={"context": fired.context.model_copy(update={"order": None})})
    url = SIGNER.survey_url(fired, TRACKED, NOW)
    assert url is not None
    found = survey_links.verify(TEST_LINK_KEYS, token_of(url, "s"), NOW)
    assert isinstance(found, Invitation) and found.order_id == "o-1001"
    assert found.survey is SurveyKind.CSAT


def test_a_step_that_asks_nothing_has_no_survey_link() -> None:
    assert SIGNER.survey_url(trigger("review/request"), TRACKED, NOW) is None


def test_a_tracked_link_carries_its_target_and_message() -> None:
    track = SIGNER.tracker(TRACKED)
    target = "https://acme.example/cart/recover/abc123?utm_source=nudge&x=1#top"
    tracked = track(target)
    assert verify_click(TEST_LINK_KEYS, token_of(tracked, "c")) == Click(TRACKED, target)
    assert track(target) == tracked  # one token per target in a message


@pytest.mark.parametrize(
    "url",
    [
        f"{PUBLIC}/u/k0.unsubscribe.mac",
        f"{PUBLIC}/c/k0.already.tracked",
        PUBLIC,
        "mailto:help@acme.example",
        "tel:+31201234567",
        "#top",
        "/relative",
        "javascript:alert(1)",
        "https://acme.example\\@evil.example",
    ],
)
def test_unsubscribe_tracked_links_and_what_is_not_a_web_link_stay_as_they_are(
    url: str,
) -> None:
    assert SIGNER.tracker(TRACKED)(url) == url


def test_the_survey_link_is_tracked_once() -> None:
    survey = f"{PUBLIC}/s/k0.survey.mac"
    tracked = SIGNER.tracker(TRACKED)(survey)
    assert verify_click(TEST_LINK_KEYS, token_of(tracked, "c")) == Click(TRACKED, survey)
    assert SIGNER.tracker(TRACKED)(tracked) == tracked


def test_another_host_that_merely_starts_like_the_public_url_is_tracked() -> None:
    url = "https://feedback.example.evil.example/x"
    assert SIGNER.tracker(TRACKED)(url).startswith(f"{PUBLIC}/c/")


def test_the_pixel_names_the_message() -> None:
    url = SIGNER.pixel_url(TRACKED)
    assert url.endswith(".gif")
    assert verify_open(TEST_LINK_KEYS, token_of(url, "o").removesuffix(".gif")) == TRACKED


def test_the_survey_lifetime_is_checked_at_start() -> None:
    assert DispatchSettings().survey_ttl_days == 30
    with pytest.raises(ValidationError, match="survey_ttl_days"):
        DispatchSettings(survey_ttl_days=0)
