"""and / or / not with parentheses: precedence, the facts a reason shows, and how the moments
at which parts change combine into the rule's `changes_at`."""

from __future__ import annotations

from decimal import Decimal

from services.segmenter.profiles.facts import DAY_S
from services.segmenter.profiles.model import Order
from services.segmenter.rules import MAX_REASON
from tests.unit.segmenter.rules.builders import (
    NOW,
    answer,
    assert_turns_at,
    days_ago,
    orders_at,
    profile,
)

EMAIL_ONLY = profile(consent={"email": True, "sms": False}, email=True, phone=False)


def test_not_binds_tighter_than_and_which_binds_tighter_than_or() -> None:
    assert answer("consent.email or consent.sms and has phone", EMAIL_ONLY).matched
    assert not answer("(consent.email or consent.sms) and has phone", EMAIL_ONLY).matched
    assert not answer("not consent.email and consent.sms", EMAIL_ONLY).matched
    assert answer("not (consent.email and consent.sms)", EMAIL_ONLY).matched
    assert answer("not not consent.email", EMAIL_ONLY).matched


def test_a_reason_states_the_facts_that_decided() -> None:
    orders = [
        Order(order_id=f"o{n}", at=days_ago(40 - n), total=Decimal("203.10"), currency="EUR")
        for n in range(4)
    ]
    vip = profile(orders=orders)
    when = "revenue >= 500 and orders >= 3"
    assert answer(when, vip).reason == "revenue 812.40 >= 500 and orders 4 >= 3"
    small = profile(orders=orders_at(3))
    assert answer(when, small).reason == "revenue 100 < 500 and orders 1 < 3"
    assert answer("revenue >= 50 and orders >= 3", small).reason == "orders 1 < 3"
    assert answer("orders >= 3 or has email", EMAIL_ONLY).reason == "has email"
    assert answer("not consent.sms", EMAIL_ONLY).reason == "no consent.sms"


def test_a_reason_is_cut_to_the_length_a_segment_change_takes() -> None:
    when = " or ".join(f'bought category "category number {n:03}"' for n in range(40))
    reason = answer(when, profile()).reason
    assert len(reason) == MAX_REASON
    assert reason.endswith("…")


def test_and_true_changes_when_its_first_part_turns() -> None:
    recent = profile(orders=orders_at(10), last_activity_at=days_ago(5))
    when = "last_order within 30d and last_activity within 40d"
    assert_turns_at(when, recent, days_ago(10) + 30 * DAY_S)


def test_and_false_cannot_turn_before_its_last_false_part_does() -> None:
    recent = profile(orders=orders_at(10), last_activity_at=days_ago(5))
    when = "last_order not within 30d and last_activity not within 40d"
    assert_turns_at(when, recent, days_ago(5) + 40 * DAY_S)


def test_and_false_for_good_when_one_false_part_only_an_event_can_change() -> None:
    recent = profile(orders=orders_at(10))
    verdict = answer("orders >= 5 and last_order not within 30d", recent)
    assert (verdict.matched, verdict.changes_at) == (False, None)
    verdict = answer("last_order not within 30d and orders >= 5", recent)
    assert (verdict.matched, verdict.changes_at) == (False, None)


def test_or_true_holds_until_its_last_true_part_turns() -> None:
    recent = profile(orders=orders_at(10), last_activity_at=days_ago(5))
    when = "last_order within 30d or last_activity within 40d"
    assert_turns_at(when, recent, days_ago(5) + 40 * DAY_S)


def test_or_true_for_good_when_a_true_part_only_an_event_can_change() -> None:
    recent = profile(orders=orders_at(10))
    verdict = answer("last_order within 30d or orders >= 1", recent)
    assert (verdict.matched, verdict.changes_at) == (True, None)


def test_or_false_changes_when_its_first_part_turns() -> None:
    recent = profile(orders=orders_at(10), last_activity_at=days_ago(5))
    when = "last_order not within 30d or last_activity not within 40d"
    assert_turns_at(when, recent, days_ago(10) + 30 * DAY_S)


def test_not_turns_when_its_part_does() -> None:
    recent = profile(orders=orders_at(10))
    assert_turns_at("not last_order within 30d", recent, days_ago(10) + 30 * DAY_S)
    assert answer("not orders >= 1", recent).changes_at is None
    assert days_ago(10) < NOW
