"""The demo's second customer gets his held-back SMS whatever the hour `make run` starts at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from deploy.local.demo import storyline

LATENESS_H = 6.0
"""The cart reminders' `max_lateness` in the default catalog."""


def _wait_for_morning_h(zone: str, at: datetime) -> float:
    """Hours from `at` to the end of the quiet hours (08:00 there), 0 outside them."""
    local = at.astimezone(ZoneInfo(zone))
    if 8 <= local.hour < 21:
        return 0.0
    day = local.date() + timedelta(days=1 if local.hour >= 21 else 0)
    morning = datetime(day.year, day.month, day.day, 8, tzinfo=ZoneInfo(zone))
    return (morning - at).total_seconds() / 3600


def test_the_sms_waits_for_the_morning_but_not_past_the_lateness_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = datetime(2026, 1, 1, tzinfo=UTC)
    for step in range(0, 366 * 24 * 60, 331):  # every 331 minutes of a year: DST changes too
        start = first + timedelta(minutes=step)
        monkeypatch.setattr(storyline, "START", start)
        zone, morning_h = storyline._zone_at_night(72.2)
        # Reminder 3 (due at 72 h, seen a few minutes later) is held back until the morning.
        assert 1 <= morning_h - 72.0 < LATENESS_H - 0.5, (start, zone, morning_h)
        # Reminder 2 (due at 24 h) meets the same night or none: it does not expire either.
        assert _wait_for_morning_h(zone, start + timedelta(hours=24.2)) < LATENESS_H - 0.7
