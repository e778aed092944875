"""CSAT and NPS on a fixture with known answers, computed by hand; the latest answer per
invitation only; nothing to count is None."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.feedback.surveys.scores import Scored, csat, latest_per_invitation, nps, scored
from shared.events.feedback import MessageRef, SurveyAnswered, SurveyAnsweredEvent, SurveyKind

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
CSAT, NPS = SurveyKind.CSAT, SurveyKind.NPS


def answers(kind: SurveyKind, scores: list[int], prefix: str = "m") -> list[Scored]:
    return [
        Scored(f"{prefix}-{n}", kind, score, T0 + timedelta(minutes=n), f"e-{prefix}-{n}")
        for n, score in enumerate(scores)
    ]


# Hand-computed:
# CSAT 5 5 4 4 4 3 2 1 5 4: satisfied (4 or 5) = 7 of 10 -> 70 %.
# NPS 10 9 9 8 7 6 5 0 10 3 3 9: promoters (9, 10) = 5, detractors (0-6) = 5, passives = 2,
#   of 12 -> 5/12 - 5/12 = 0.
# NPS 10 10 9 8 2: promoters 3, detractors 1, of 5 -> 60 % - 20 % = 40.
CSAT_SCORES = [5, 5, 4, 4, 4, 3, 2, 1, 5, 4]
NPS_BALANCED = [10, 9, 9, 8, 7, 6, 5, 0, 10, 3, 3, 9]
NPS_GOOD = [10, 10, 9, 8, 2]


def test_csat_is_the_share_of_4_and_5() -> None:
    assert csat(answers(CSAT, CSAT_SCORES)) == 70.0


def test_nps_is_promoters_minus_detractors() -> None:
    assert nps(answers(NPS, NPS_BALANCED)) == 0.0
    assert nps(answers(NPS, NPS_GOOD)) == 40.0
    assert nps(answers(NPS, [0, 6])) == -100.0
    assert nps(answers(NPS, [7, 8])) == 0.0  # passives only
    assert nps(answers(NPS, [9, 7, 6])) == pytest.approx(0.0)
    assert nps(answers(NPS, [9, 9, 6])) == pytest.approx(100 / 3)


def test_each_score_counts_only_on_its_own_scale() -> None:
    mixed = answers(CSAT, CSAT_SCORES) + answers(NPS, NPS_GOOD, prefix="n")
    assert csat(mixed) == 70.0 and nps(mixed) == 40.0


def test_nothing_to_count_is_none_not_zero() -> None:
    assert csat([]) is None and nps([]) is None
    assert csat(answers(NPS, [10])) is None and nps(answers(CSAT, [5])) is None


def test_only_the_latest_answer_of_each_invitation_counts() -> None:
    first = Scored("m-1", CSAT, 1, T0, "e-1")
    changed = Scored("m-1", CSAT, 5, T0 + timedelta(minutes=3), "e-2")
    other = Scored("m-2", CSAT, 2, T0, "e-3")
    assert csat([changed, first, other]) == 50.0  # 5 and 2, not 1, 5 and 2
    assert sorted(latest_per_invitation([first, changed, other]), key=lambda a: a.invitation) == [
        changed,
        other,
    ]
    repeat = Scored("m-1", CSAT, 5, T0 + timedelta(minutes=3), "e-2")  # the same event again
    assert csat([first, changed, repeat, other]) == 50.0


def test_at_the_same_moment_the_greater_event_id_wins() -> None:
    a = Scored("m-1", NPS, 0, T0, "e-a")
    b = Scored("m-1", NPS, 10, T0, "e-b")
    assert nps([a, b]) == nps([b, a]) == 100.0


def test_records_are_scored_by_the_message_they_answer() -> None:
    data = SurveyAnswered(survey=NPS, score=9, message=MessageRef(message_id="m-7"))
    event = SurveyAnsweredEvent(
        id="e-9", source="/t", time=T0, shopid="acme", customerid="c1", data=data
    )
    assert scored(event) == Scored("m-7", NPS, 9, T0, "e-9")
    anonymous = event.model_copy(update={"data": SurveyAnswered(survey=NPS, score=9)})
    assert scored(anonymous).invitation == "event:e-9"
