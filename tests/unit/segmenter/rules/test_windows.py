"""Time in rules: `within` / `not within` fixed and relative windows, counts of events in the
last N days, and stage / RFM answers, each with the exact moment it changes by time alone."""

from __future__ import annotations

import pytest

from services.segmenter.profiles.facts import DAY_S
from services.segmenter.profiles.model import Tally
from services.segmenter.rfm.scores import RfmScores
from services.segmenter.rules.spans import HOUR_S
from tests.unit.segmenter.rules.builders import (
    NOW,
    TODAY,
    answer,
    assert_turns_at,
    days_ago,
    orders_at,
    profile,
)

MONTHLY = profile(orders=orders_at(90, 60, 30))
"""Repeat interval 30 days, last order 30 days ago."""


@pytest.mark.parametrize("when", ["last_order within 45d", "last_order not within 45d"])
def test_a_window_turns_exactly_when_the_time_is_as_old_as_the_window(when: str) -> None:
    assert_turns_at(when, MONTHLY, days_ago(30) + 45 * DAY_S)


@pytest.mark.parametrize(
    ("span", "seconds"),
    [("12h", 12 * HOUR_S), ("2w", 14 * DAY_S), ("1d12h", 36 * HOUR_S), ("3d", 3 * DAY_S)],
)
def test_durations_in_hours_days_weeks(span: str, seconds: float) -> None:
    active = profile(last_activity_at=NOW - HOUR_S)
    assert_turns_at(f"last_activity within {span}", active, NOW - HOUR_S + seconds)


def test_a_window_that_has_passed_only_an_event_can_reopen() -> None:
    verdict = answer("last_order within 20d", MONTHLY)
    assert (verdict.matched, verdict.changes_at) == (False, None)
    assert verdict.reason == "last_order 30d ago, not within 20d"
    verdict = answer("last_order not within 20d", MONTHLY)
    assert (verdict.matched, verdict.changes_at) == (True, None)


def test_without_the_time_nothing_is_within_and_everything_is_not_within() -> None:
    lead = profile()
    within = answer("last_order within 30d", lead)
    assert (within.matched, within.changes_at, within.reason) == (False, None, "no last_order")
    assert answer("last_order not within 30d", lead).matched
    assert answer("last_order not within 30d", lead).changes_at is None


def test_a_window_of_twice_the_customers_own_interval() -> None:
    when = "last_order not within 2 x repeat_interval else 90d"
    assert_turns_at(when, MONTHLY, days_ago(30) + 60 * DAY_S)
    late = answer(when, MONTHLY, now=days_ago(30) + 61 * DAY_S)
    assert late.reason == "last_order 61d ago, not within 60d (2 x repeat_interval 30d)"


def test_the_fallback_serves_customers_without_an_interval() -> None:
    when = "last_order not within 2 x repeat_interval else 90d"
    once = profile(orders=orders_at(10))
    assert_turns_at(when, once, days_ago(10) + 90 * DAY_S)
    assert answer(when, once).reason == "last_order 10d ago, within 90d (no repeat_interval)"
    same_session = profile(orders=orders_at(10, 9.99))  # an interval under a day is no rhythm
    assert_turns_at(when, same_session, days_ago(9.99) + 90 * DAY_S)


def test_a_factor_may_have_decimals() -> None:
    assert_turns_at(
        "last_order within 1.5 x repeat_interval else 10d", MONTHLY, days_ago(30) + 45 * DAY_S
    )


def test_max_and_min_take_the_known_lengths() -> None:
    longest = "last_order within max(2 x repeat_interval, 45d)"
    shortest = "last_order within min(2 x repeat_interval, 45d)"
    assert_turns_at(longest, MONTHLY, days_ago(30) + 60 * DAY_S)
    assert_turns_at(shortest, MONTHLY, days_ago(30) + 45 * DAY_S)
    once = profile(orders=orders_at(10))
    assert_turns_at(longest, once, days_ago(10) + 45 * DAY_S)
    assert_turns_at(shortest, once, days_ago(10) + 45 * DAY_S)


VIEWS = profile(activity={"product.viewed": {TODAY: 3, TODAY - 3: 2, TODAY - 6: 4, TODAY - 7: 10}})
"""Seven days (today and the six before): 3 + 2 + 4 = 9 views; the 10 of a week ago are out."""


def test_a_count_takes_the_last_n_utc_days_today_included() -> None:
    verdict = answer("count(product.viewed, 7d) = 9", VIEWS)
    assert verdict.matched
    assert verdict.reason == "product.viewed 9 times in 7d = 9"
    assert answer("count(product.viewed, 8d) = 19", VIEWS).matched
    assert answer("count(product.viewed, 1d) = 3", VIEWS, now=NOW + DAY_S - 1).matched
    assert answer("count(cart.updated, 7d) = 0", VIEWS).matched


def test_more_than_n_times_turns_false_at_the_midnight_the_count_drops() -> None:
    assert_turns_at("count(product.viewed, 7d) > 5", VIEWS, (TODAY + 1) * DAY_S)
    assert_turns_at("count(product.viewed, 7d) > 3", VIEWS, (TODAY + 4) * DAY_S)


def test_fewer_than_n_times_turns_true_once_enough_days_have_left() -> None:
    assert_turns_at("count(product.viewed, 7d) < 3", VIEWS, (TODAY + 7) * DAY_S)
    assert_turns_at("count(product.viewed, 1w) != 9", VIEWS, (TODAY + 1) * DAY_S)


def test_a_count_that_cannot_cross_its_threshold_has_no_moment() -> None:
    assert answer("count(product.viewed, 7d) >= 0", VIEWS).changes_at is None
    assert answer("count(product.viewed, 7d) > 100", VIEWS).changes_at is None
    assert answer("count(order.placed, 7d) > 0", VIEWS).changes_at is None


def test_events_dated_ahead_of_the_clock_count_already() -> None:
    ahead = profile(activity={"product.viewed": {TODAY + 1: 6}})
    assert answer("count(product.viewed, 7d) > 5", ahead).matched
    assert_turns_at("count(product.viewed, 7d) > 5", ahead, (TODAY + 8) * DAY_S)


def test_the_last_time_a_category_was_bought_is_a_window_too() -> None:
    coffee = profile(categories_bought={"coffee": Tally(count=2, last_at=days_ago(12))})
    assert_turns_at('bought category "coffee" within 30d', coffee, days_ago(12) + 30 * DAY_S)
    verdict = answer('bought category "tea" within 30d', coffee)
    assert (verdict.matched, verdict.changes_at) == (False, None)
    assert verdict.reason == 'never bought category "tea"'


def test_a_stage_answer_changes_when_the_stage_does() -> None:
    repeat = profile(orders=orders_at(40, 20))  # interval 20d: at risk 30d after the last order
    assert_turns_at("lifecycle is repeat", repeat, days_ago(20) + 30 * DAY_S)
    assert_turns_at("lifecycle is at_risk", repeat, days_ago(20) + 30 * DAY_S)


def test_an_rfm_answer_changes_when_the_scores_may() -> None:
    refresh = NOW + 3_600
    scored = answer("rfm.r >= 4", rfm=RfmScores(r=5, f=2, m=3), rfm_changes_at=refresh)
    assert (scored.matched, scored.changes_at, scored.reason) == (True, refresh, "rfm.r 5 >= 4")
    unscored = answer("rfm.r >= 4", rfm=None, rfm_changes_at=refresh)
    assert (unscored.matched, unscored.changes_at) == (False, refresh)
    assert unscored.reason == "rfm.r unknown"
    assert answer("rfm.f <= 2 and rfm.m = 3", rfm=RfmScores(r=5, f=2, m=3)).matched
