"""The strict rule for a bare score texted back: what is an answer, and what stays a reply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.feedback.directory import ContactRef, SentMessage
from services.feedback.surveys.sms_answers import SMS_ANSWER_WINDOW, answer_to, score_in_text
from shared.events.feedback import SurveyKind
from shared.events.shop import Channel

CSAT, NPS = SurveyKind.CSAT, SurveyKind.NPS
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "kind", "score"),
    [
        ("5", CSAT, 5),
        (" 4 ", CSAT, 4),
        ("\n1\n", CSAT, 1),
        ("4/5", CSAT, 4),
        ("4 / 5", CSAT, 4),
        ("0", NPS, 0),
        ("10", NPS, 10),
        ("9/10", NPS, 9),
        ("10/10", NPS, 10),
    ],
)
def test_a_bare_score_on_the_scale_is_an_answer(text: str, kind: SurveyKind, score: int) -> None:
    assert score_in_text(text, kind) == score


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("0", CSAT),  # off the CSAT scale
        ("6", CSAT),
        ("11", NPS),
        ("4/10", CSAT),  # another scale than the question's
        ("9/5", NPS),
        ("9 out of 10", NPS),
        ("5 stars", CSAT),
        ("five", CSAT),
        ("4.5", CSAT),
        ("-1", NPS),
        ("+4", CSAT),
        ("5!", CSAT),
        ("4/5 but it came late", CSAT),
        ("\u0665", CSAT),  # ARABIC-INDIC DIGIT FIVE: not ASCII
        ("\uff15", CSAT),  # FULLWIDTH DIGIT FIVE
        ("100", NPS),
        ("", CSAT),
        ("/5", CSAT),
        ("STOP", CSAT),
    ],
)
def test_anything_else_stays_a_reply(text: str, kind: SurveyKind) -> None:
    assert score_in_text(text, kind) is None


def _sent(survey: SurveyKind | None, at: datetime = T0) -> SentMessage:
    return SentMessage(
        "m-1",
        ContactRef("acme", "c1"),
        Channel.SMS,
        "t-1",
        "review_request",
        False,
        None,
        at,
        survey=survey,
        order_id="o-1",
    )


def test_only_an_sms_that_asked_for_a_survey_and_not_too_long_ago_takes_an_answer() -> None:
    assert answer_to(_sent(CSAT), "5", T0 + timedelta(hours=2)) == 5
    assert answer_to(_sent(CSAT), "5", T0 + SMS_ANSWER_WINDOW) == 5  # the window's end holds
    assert answer_to(_sent(CSAT), "5", T0 + SMS_ANSWER_WINDOW + timedelta(seconds=1)) is None
    assert answer_to(_sent(None), "5", T0 + timedelta(hours=2)) is None  # a cart reminder
    assert answer_to(None, "5", T0) is None  # nothing was texted
    assert answer_to(_sent(NPS), "9/10", T0) == 9
