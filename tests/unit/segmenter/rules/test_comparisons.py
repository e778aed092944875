"""Comparisons on numbers, money, texts, durations and stages; unknown values; reasons."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.segmenter.lifecycle import Stage
from services.segmenter.profiles.model import Answer, Order
from tests.unit.segmenter.rules.builders import NOW, answer, days_ago, orders_at, profile


@pytest.mark.parametrize(
    ("when", "matched"),
    [
        ("orders = 3", True),
        ("orders == 3", True),
        ("orders != 3", False),
        ("orders < 3", False),
        ("orders <= 3", True),
        ("orders > 2", True),
        ("orders >= 4", False),
        ("orders is 3", True),
        ("orders is not 3", False),
        ("orders in [1, 3]", True),
        ("orders not in [1, 3]", False),
    ],
)
def test_every_operator_on_a_number(when: str, matched: bool) -> None:
    assert answer(when, profile(orders=orders_at(30, 20, 10))).matched is matched


def test_money_compares_as_decimals_in_the_shops_currency() -> None:
    orders = [
        Order(order_id="a", at=days_ago(9), total=Decimal("250.20"), currency="EUR"),
        Order(order_id="b", at=days_ago(5), total=Decimal("250.20"), currency="EUR"),
        Order(order_id="c", at=days_ago(3), total=Decimal("999"), currency="USD"),
    ]
    buyer = profile(orders=orders)
    assert answer("revenue >= 500.40", buyer).matched
    assert not answer("revenue > 500.40", buyer).matched  # exact, no float rounding
    assert answer("revenue > 500.40", buyer).reason == "revenue 500.40 <= 500.40"
    assert answer("aov = 250.20", buyer).matched  # the USD order is kept apart
    assert answer("revenue >= 999", buyer, currency="USD").matched


def test_a_comparison_with_an_unknown_value_is_false_whatever_the_operator() -> None:
    lead = profile()
    for when in ("aov >= 0", "aov < 1", "aov != 5", "nps >= 0", 'locale != "de"'):
        verdict = answer(when, lead)
        assert not verdict.matched, when
        assert verdict.changes_at is None
    assert answer('not locale = "de"', lead).matched
    assert answer("aov >= 0", lead).reason == "aov unknown"


def test_texts_compare_exactly_and_by_prefix() -> None:
    german = profile(locale="de-AT", time_zone="Europe/Vienna")
    assert answer('locale = "de-AT"', german).matched
    assert not answer('locale = "de"', german).matched
    assert answer('locale starts with "de"', german).matched
    assert not answer("locale starts with 'fr'", german).matched
    assert answer('time_zone in ["Europe/Vienna", "Europe/Berlin"]', german).matched
    assert answer('locale starts with "de"', german).reason == 'locale "de-AT" starts with "de"'
    assert not answer('locale starts with "de"', profile()).matched


def test_the_lifecycle_stage_compares_by_name() -> None:
    repeat = profile(orders=orders_at(40, 20))
    assert answer("lifecycle is repeat", repeat).matched
    assert answer('lifecycle = "repeat"', repeat).matched
    assert answer("lifecycle is not lead", repeat).matched
    assert answer("lifecycle in [at_risk, repeat]", repeat).matched
    assert not answer("lifecycle not in [at_risk, repeat]", repeat).matched
    assert answer("lifecycle is lead", profile()).reason == "lifecycle lead = lead"
    assert answer("lifecycle is at_risk", repeat).reason == "lifecycle repeat != at_risk"
    assert Stage.REPEAT.value == "repeat"


def test_the_repeat_interval_compares_with_a_duration() -> None:
    monthly = profile(orders=orders_at(90, 60, 30))
    assert answer("repeat_interval <= 30d", monthly).matched
    assert not answer("repeat_interval < 4w", monthly).matched
    assert answer("repeat_interval > 720h", monthly).reason == "repeat_interval 30d <= 30d"
    assert not answer("repeat_interval <= 30d", profile(orders=orders_at(3))).matched


def test_nps_and_csat_read_the_latest_answer() -> None:
    answered = profile(nps=Answer(score=0, at=days_ago(2)), csat=Answer(score=4, at=NOW))
    assert answer("nps = 0", answered).matched  # a zero score is a score, not unknown
    assert answer("nps <= 6 and csat >= 4", answered).matched
    assert answer("has nps and has csat", answered).matched
    assert not answer("has nps", profile()).matched
