"""The promise of `changes_at`, checked on generated customers: between `now` and the moment
given, the answer never differs from the one given at `now` (early is allowed, late is not)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.segmenter.profiles.facts import DAY_S
from services.segmenter.profiles.model import Engagement, Profile, Tally
from services.segmenter.rules import compile_rule, evaluate
from tests.unit.segmenter.rules.builders import NOW, TODAY, days_ago, orders_at, profile, subject

RULES = [
    compile_rule(f"r{n}", when)
    for n, when in enumerate(
        [
            "orders >= 1 and last_order not within 2 x repeat_interval else 90d",
            "lifecycle is at_risk or lifecycle in [lapsed, churned]",
            "count(product.viewed, 7d) > 3 and not count(cart.updated, 3d) >= 2",
            "count(product.viewed, 30d) = 4 or last_activity within 36h",
            "(email.last_engaged within 30d or sms.last_engaged within 2w) and orders < 3",
            "not (last_order within max(1.5 x repeat_interval, 20d) and has email)",
            'bought category "coffee" within min(2 x repeat_interval else 60d, 45d)',
            "last_order within 30d and last_activity not within 10d or orders = 2",
            "last_order within 60d and last_activity within 20d and email.last_engaged within 9d",
        ]
    )
]

ages = st.lists(st.floats(min_value=0, max_value=300), max_size=4)
days = st.dictionaries(st.integers(min_value=-40, max_value=2), st.integers(1, 4), max_size=6)
maybe_age = st.none() | st.floats(min_value=0, max_value=120)


@st.composite
def customers(draw: st.DrawFn) -> Profile:
    email_age, sms_age, activity_age, coffee_age = (draw(maybe_age) for _ in range(4))
    return profile(
        orders=orders_at(*draw(ages)),
        activity={
            "product.viewed": {TODAY + d: c for d, c in draw(days).items()},
            "cart.updated": {TODAY + d: c for d, c in draw(days).items()},
        },
        engagement={
            "email": Engagement(last_engaged_at=None if email_age is None else days_ago(email_age)),
            "sms": Engagement(last_engaged_at=None if sms_age is None else days_ago(sms_age)),
        },
        last_activity_at=None if activity_age is None else days_ago(activity_age),
        categories_bought={}
        if coffee_age is None
        else {"coffee": Tally(count=1, last_at=days_ago(coffee_age))},
        email=draw(st.booleans()),
    )


@settings(max_examples=150, deadline=None)
@given(
    customer=customers(),
    probes=st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=6),
)
def test_no_answer_changes_before_its_moment(customer: Profile, probes: list[float]) -> None:
    now_subject = subject(customer)
    for rule in RULES:
        first = evaluate(rule, now_subject, NOW)
        horizon = first.changes_at if first.changes_at is not None else NOW + 400 * DAY_S
        for fraction in probes:
            later = NOW + (horizon - NOW) * fraction
            if later >= horizon:
                continue
            found = evaluate(rule, subject(customer, later), later)
            assert found.matched == first.matched, (rule.when, later - NOW, first)
