"""How simulated customers answer messages: the same answers for the same message, the
channel rules, rates near each customer's propensities, delays within a day."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from services.simulator.command import Plan
from services.simulator.formats import Format
from services.simulator.population import Customer, Mix, customer, population
from services.simulator.replies import (
    DELAYS,
    Reply,
    ReplyKind,
    bouncing_addresses,
    nps_score,
    replies_to,
)

SHOPS = ("sim-shopify", "sim-segment", "sim-native")
IDS = [str(uuid.UUID(int=n)) for n in range(4000)]


def chances(
    person: Customer,
    click: float = 0.0,
    survey: float = 0.0,
    stop: float = 0.0,
    unsubscribe: float = 0.0,
) -> Customer:
    """The customer with these propensities."""
    return dataclasses.replace(
        person,
        click_probability=click,
        survey_answer_probability=survey,
        stop_reply_probability=stop,
        unsubscribe_probability=unsubscribe,
    )


def keen(survey: float = 1.0) -> Customer:
    """A customer who does everything they may (answers surveys with chance `survey`)."""
    return chances(customer(7, SHOPS, 3), click=1.0, survey=survey, stop=1.0, unsubscribe=1.0)


def kinds(replies: tuple[Reply, ...]) -> set[ReplyKind]:
    return {reply.kind for reply in replies}


def test_the_same_message_gets_the_same_replies() -> None:
    person = customer(7, SHOPS, 11, Mix(click_probability=0.5, stop_reply_probability=0.5))
    for message_id in IDS[:200]:
        first = replies_to(person, message_id, "sms", survey=True, links=True)
        assert replies_to(person, message_id, "sms", survey=True, links=True) == first
    answered = [replies_to(person, m, "sms", survey=True, links=True) for m in IDS[:200]]
    assert len(set(answered)) > 5  # and different messages get different answers


def test_email_is_never_answered_with_stop_nor_a_text_unsubscribed_in_one_click() -> None:
    person = keen()
    assert kinds(replies_to(person, IDS[0], "email", survey=False, links=True)) == {
        ReplyKind.CLICK,
        ReplyKind.UNSUBSCRIBE,
    }
    assert kinds(replies_to(person, IDS[0], "sms", survey=False, links=True)) == {
        ReplyKind.CLICK,
        ReplyKind.STOP,
    }


def test_no_survey_answer_without_a_survey_and_no_click_without_a_link() -> None:
    person = keen()
    assert kinds(replies_to(person, IDS[1], "email", survey=False, links=False)) == {
        ReplyKind.UNSUBSCRIBE
    }
    assert kinds(replies_to(person, IDS[1], "sms", survey=True, links=False)) == {
        ReplyKind.SURVEY,
        ReplyKind.STOP,
    }


def test_a_survey_answer_is_the_visit_a_click_would_be() -> None:
    answers = replies_to(keen(), IDS[2], "email", survey=True, links=True)
    assert kinds(answers) == {ReplyKind.SURVEY, ReplyKind.UNSUBSCRIBE}
    declines = replies_to(keen(survey=0.0), IDS[2], "email", survey=True, links=True)
    assert kinds(declines) == {ReplyKind.CLICK, ReplyKind.UNSUBSCRIBE}


def test_one_decision_does_not_move_the_others() -> None:
    """Each kind has its own draws: whether the message had a survey does not change when
    the customer texts STOP."""
    person = customer(7, SHOPS, 5, Mix(stop_reply_probability=0.3))
    for message_id in IDS[:300]:
        with_survey = replies_to(person, message_id, "sms", survey=True, links=True)
        without = replies_to(person, message_id, "sms", survey=False, links=False)
        stop = [r for r in with_survey if r.kind is ReplyKind.STOP]
        assert stop == [r for r in without if r.kind is ReplyKind.STOP]


@pytest.mark.parametrize(
    ("kind", "channel", "name"),
    [
        (ReplyKind.CLICK, "email", "click"),
        (ReplyKind.SURVEY, "email", "survey"),
        (ReplyKind.STOP, "sms", "stop"),
        (ReplyKind.UNSUBSCRIBE, "email", "unsubscribe"),
    ],
)
def test_rates_follow_the_customers_propensity(kind: ReplyKind, channel: str, name: str) -> None:
    person = chances(customer(7, SHOPS, 8), **{name: 0.2})
    survey = kind is ReplyKind.SURVEY
    hits = sum(
        kind in kinds(replies_to(person, m, channel, survey=survey, links=True)) for m in IDS
    )
    assert 0.17 < hits / len(IDS) < 0.23


def test_delays_are_within_their_bounds_and_the_replies_in_their_order() -> None:
    seen: dict[ReplyKind, list[timedelta]] = {kind: [] for kind in ReplyKind}
    for number, message_id in enumerate(IDS[:1500]):
        for channel in ("email", "sms"):
            survey = number % 2 == 0  # a survey answer takes the place of the click
            answers = replies_to(keen(), message_id, channel, survey=survey, links=True)
            assert [r.delay for r in answers] == sorted(r.delay for r in answers)
            for reply in answers:
                seen[reply.kind].append(reply.delay)
    for kind, delays in seen.items():
        bounds = DELAYS[kind]
        assert all(bounds.least <= d <= bounds.most for d in delays)
        assert all(d <= timedelta(days=1) for d in delays)
        assert len(set(delays)) > 100  # drawn, not fixed
        middle = sorted(delays)[len(delays) // 2]
        assert bounds.median / 2 < middle < bounds.median * 2


def test_survey_answers_carry_a_csat_score_leaning_happy() -> None:
    scores = [
        reply.score
        for m in IDS
        for reply in replies_to(keen(), m, "email", survey=True, links=True)
        if reply.kind is ReplyKind.SURVEY
    ]
    assert len(scores) == len(IDS) and set(scores) == {1, 2, 3, 4, 5}
    assert sum(score >= 4 for score in scores if score is not None) > len(scores) / 2
    others = [r for m in IDS[:50] for r in replies_to(keen(), m, "sms", survey=True, links=True)]
    assert all(r.score is None for r in others if r.kind is not ReplyKind.SURVEY)
    assert [nps_score(s) for s in range(1, 6)] == sorted(nps_score(s) for s in range(1, 6))
    assert nps_score(1) <= 6 and nps_score(5) >= 9


def test_an_unknown_channel_is_refused() -> None:
    with pytest.raises(ValueError, match="channel"):
        replies_to(keen(), IDS[0], "push", survey=False, links=False)


def test_bouncing_addresses_are_those_of_the_customers_who_bounce() -> None:
    plan = Plan(
        seed=7,
        customers=600,
        days=1,
        start=datetime(2026, 12, 7, tzinfo=UTC),
        shops=tuple((shop, Format.NATIVE) for shop in SHOPS),
        mix=Mix(bouncing_share=0.1),
    )
    people = population(7, SHOPS, 600, Mix(bouncing_share=0.1))
    expected = [p.email for p in people if p.bounces]
    assert bouncing_addresses(plan) == expected
    assert 30 < len(expected) < 90
