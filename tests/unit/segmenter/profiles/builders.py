"""Applying event sequences to profiles, for the profile tests."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from services.segmenter.profiles.apply import apply
from services.segmenter.profiles.facts import DAY_S, OrderFacts, order_facts
from services.segmenter.profiles.model import Profile
from tests.support.segmenter_events import T0, seconds

NOW = seconds(T0) + 400 * DAY_S
"""Any moment after the events: `apply` takes it but its arithmetic must not depend on it."""


def run(*events: Any, start: Profile | None = None) -> Profile:
    """The profile after `events`, applied in the order given."""
    profile = start
    for event in events:
        profile = apply(profile, event, NOW, shop_currency="EUR")
    assert profile is not None, "no events"
    return profile


def facts(profile: Profile, currency: str | None = "EUR") -> OrderFacts:
    return order_facts(profile, currency)


def day(at: float) -> int:
    return int(at // DAY_S)


def ids(events: Iterable[Any]) -> list[str]:
    return [event.id for event in events]
