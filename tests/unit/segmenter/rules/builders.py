"""Profiles and subjects built by hand for the rule tests (no events: profiles directly)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.segmenter.lifecycle import LifecycleRules, stage_of
from services.segmenter.profiles.facts import DAY_S, order_facts
from services.segmenter.profiles.model import Order, Profile
from services.segmenter.rfm.scores import RfmScores
from services.segmenter.rules import Rule, Subject, Verdict, compile_rule, evaluate

NOW = 1_750_032_000.0
"""A UTC midnight (2025-06-16 00:00), so that day arithmetic is easy to follow."""
TODAY = int(NOW // DAY_S)
assert NOW == TODAY * DAY_S


def days_ago(days: float, now: float = NOW) -> float:
    return now - days * DAY_S


def orders_at(*ages_in_days: float, total: str = "100", currency: str = "EUR") -> list[Order]:
    """One order per age (days before NOW), each of `total`."""
    return [
        Order(order_id=f"o{n}", at=days_ago(age), total=Decimal(total), currency=currency)
        for n, age in enumerate(sorted(ages_in_days, reverse=True))
    ]


def profile(**fields: Any) -> Profile:
    return Profile(shop_id="shop", customer_id="c1", **fields)


def subject(
    of: Profile | None = None,
    now: float = NOW,
    *,
    rfm: RfmScores | None = None,
    rfm_changes_at: float | None = None,
    currency: str | None = "EUR",
    lifecycle: LifecycleRules | None = None,
) -> Subject:
    """The subject the worker would build at `now` (facts, stage and its next change)."""
    of = of if of is not None else profile()
    facts = order_facts(of, currency)
    stage, changes_at = stage_of(facts, now, lifecycle or LifecycleRules())
    return Subject(of, facts, stage, changes_at, rfm, rfm_changes_at)


def rule(when: str, segment_id: str = "test") -> Rule:
    return compile_rule(segment_id, when)


def answer(when: str, of: Profile | None = None, now: float = NOW, **kwargs: Any) -> Verdict:
    return evaluate(rule(when), subject(of, now, **kwargs), now)


def assert_turns_at(when: str, of: Profile, at: float, now: float = NOW, **kwargs: Any) -> None:
    """The answer at `now` holds until just before `at`, and is the other one from `at` on:
    `changes_at` is `at`, exactly."""
    compiled = rule(when)
    first = evaluate(compiled, subject(of, now, **kwargs), now)
    assert first.changes_at == at, (first, at)
    just_before = at - 0.001
    before = evaluate(compiled, subject(of, just_before, **kwargs), just_before)
    after = evaluate(compiled, subject(of, at, **kwargs), at)
    assert before.matched == first.matched
    assert after.matched != first.matched
