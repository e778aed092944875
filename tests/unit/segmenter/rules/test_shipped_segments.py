"""Each shipped segment, for customers just inside and just outside it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.segmenter.profiles.facts import DAY_S
from services.segmenter.profiles.model import Answer, Engagement, Order, Profile, Tally
from services.segmenter.rules import default_segments
from tests.unit.segmenter.rules.builders import NOW, days_ago, orders_at, profile, subject


def answers(of: Profile, now: float = NOW) -> dict[str, bool]:
    found = default_segments().evaluate(subject(of, now), now).verdicts
    return {segment_id: verdict.matched for segment_id, verdict in found.items()}


def order(age: float, total: str) -> Order:
    return Order(order_id=f"o{age}", at=days_ago(age), total=Decimal(total), currency="EUR")


def engaged(channel: str, age: float | None, sent: int = 1, **consent: bool) -> Profile:
    activity = Engagement(
        sent=sent,
        clicked=1 if age is not None else 0,
        last_engaged_at=(days_ago(age) if age is not None else None),
    )
    return profile(engagement={channel: activity}, consent=consent)


CASES = [
    ("vip", profile(orders=[order(30, "200"), order(20, "200"), order(10, "100")]), True),
    ("vip", profile(orders=[order(30, "200"), order(20, "200"), order(10, "99.99")]), False),
    ("vip", profile(orders=[order(20, "900"), order(10, "900")]), False),
    ("at-risk", profile(orders=orders_at(60, 40)), True),  # 40 days > 1.5 x 20
    ("at-risk", profile(orders=orders_at(40, 20)), False),
    ("lapsed", profile(orders=orders_at(121, 91, 61)), True),  # 61 days > 2 x 30
    ("lapsed", profile(orders=orders_at(119, 89, 59)), False),
    ("lapsed", profile(orders=orders_at(91)), True),  # no interval: 90 days
    ("lapsed", profile(orders=orders_at(89)), False),
    ("lapsed", profile(), False),
    ("inactive-90d", profile(orders=orders_at(91)), True),
    ("inactive-90d", profile(orders=orders_at(121, 91, 61)), False),
    ("first-time-buyers", profile(orders=orders_at(400)), True),
    ("first-time-buyers", profile(orders=orders_at(20, 10)), False),
    ("first-time-buyers", profile(), False),
    ("repeat-buyers", profile(orders=orders_at(20, 10)), True),
    ("repeat-buyers", profile(orders=orders_at(10)), False),
    ("high-aov", profile(orders=[order(20, "100"), order(10, "200")]), True),
    ("high-aov", profile(orders=[order(20, "100"), order(10, "199.98")]), False),
    ("high-aov", profile(), False),
    ("nps-promoters", profile(nps=Answer(score=9, at=days_ago(1))), True),
    ("nps-promoters", profile(nps=Answer(score=8, at=days_ago(1))), False),
    ("nps-detractors", profile(nps=Answer(score=6, at=days_ago(1))), True),
    ("nps-detractors", profile(nps=Answer(score=7, at=days_ago(1))), False),
    ("nps-detractors", profile(), False),
    ("sms-engaged", engaged("sms", 10, sms=True), True),
    ("sms-engaged", engaged("sms", 10, sms=False), False),
    ("sms-engaged", engaged("sms", 91, sms=True), False),
    ("email-engaged", engaged("email", 89, email=True), True),
    ("email-engaged", engaged("sms", 1, email=True, sms=True), False),
    ("never-engaged", engaged("email", None, sent=3), True),
    ("never-engaged", engaged("email", 200, sent=3), False),
    ("never-engaged", engaged("email", None, sent=2), False),
]


@pytest.mark.parametrize(("segment_id", "customer", "expected"), CASES)
def test_each_shipped_segment(segment_id: str, customer: Profile, expected: bool) -> None:
    assert answers(customer).get(segment_id, False) is expected


def test_the_shipped_segments_are_each_tested_both_ways() -> None:
    ids = {rule.segment_id for rule in default_segments().rules} - {"fan-{category}"}
    assert {case[0] for case in CASES if case[2]} == ids
    assert {case[0] for case in CASES if not case[2]} == ids


def test_category_fans_one_per_category_bought_twice() -> None:
    buyer = profile(
        orders=orders_at(20, 10),
        categories_bought={
            "coffee": Tally(count=2, last_at=days_ago(10)),
            "tea": Tally(count=1, last_at=days_ago(20)),
        },
        categories_viewed={"mugs": Tally(count=9, last_at=days_ago(1))},
    )
    found = answers(buyer)
    assert (found["fan-coffee"], found["fan-tea"]) == (True, False)
    assert "fan-mugs" not in found


def test_the_win_back_segment_is_entered_by_time_alone_at_twice_the_interval() -> None:
    monthly = profile(orders=orders_at(119, 89, 59))
    verdict = default_segments().evaluate(subject(monthly), NOW).verdicts["lapsed"]
    assert not verdict.matched
    assert verdict.changes_at == days_ago(59) + 60 * DAY_S
    later = verdict.changes_at
    entered = default_segments().evaluate(subject(monthly, later), later).verdicts["lapsed"]
    assert entered.matched
    assert entered.reason == (
        "orders 3 >= 1 and last_order 60d ago, not within 60d (2 x repeat_interval 30d)"
    )
