"""Engagement, consent, contact details and `has`: what each field reads from the profile."""

from __future__ import annotations

from services.segmenter.profiles.facts import DAY_S
from services.segmenter.profiles.model import Engagement
from tests.unit.segmenter.rules.builders import (
    NOW,
    answer,
    assert_turns_at,
    days_ago,
    orders_at,
    profile,
)

ENGAGED = profile(
    engagement={
        "email": Engagement(sent=6, delivered=5, opened=3, clicked=1, last_engaged_at=days_ago(8)),
        "sms": Engagement(sent=2, delivered=2, replied=1, last_engaged_at=days_ago(3)),
    },
    consent={"email": True, "sms": False},
)


def test_engagement_counts_per_channel_and_for_all_channels() -> None:
    assert answer("email.clicked >= 1 and email.opened = 3", ENGAGED).matched
    assert answer("sms.replied = 1 and sms.opened = 0", ENGAGED).matched
    assert answer("messages.sent = 8 and messages.delivered = 7", ENGAGED).matched
    assert answer("email.sent = 0 and messages.sent = 0", profile()).matched


def test_the_last_engagement_per_channel_and_anywhere() -> None:
    assert_turns_at("email.last_engaged within 30d", ENGAGED, days_ago(8) + 30 * DAY_S)
    assert_turns_at("sms.last_engaged within 30d", ENGAGED, days_ago(3) + 30 * DAY_S)
    assert_turns_at("messages.last_engaged within 30d", ENGAGED, days_ago(3) + 30 * DAY_S)
    assert not answer("has messages.last_engaged", profile()).matched


def test_consent_is_true_only_when_given() -> None:
    assert answer("consent.email and not consent.sms", ENGAGED).matched
    assert not answer("consent.email", profile()).matched  # never stated
    assert answer("consent.sms", ENGAGED).reason == "no consent.sms"


def test_contact_details_and_has() -> None:
    known = profile(email=True, phone=False, birthday="1990-02-01", locale="nl", time_zone="UTC")
    assert answer("has email and not has phone and has birthday", known).matched
    assert answer("has locale and has time_zone", known).matched
    assert not answer("has email or has phone or has birthday or has locale", profile()).matched
    assert answer("has phone", known).reason == "no phone"
    assert answer("has aov", profile(orders=orders_at(2))).matched
    assert not answer("has aov", profile()).matched


def test_activity_and_first_times() -> None:
    seen = profile(first_seen_at=days_ago(400), last_activity_at=days_ago(1))
    assert answer("first_seen not within 365d and last_activity within 7d", seen).matched
    buyer = profile(orders=orders_at(100, 2))
    assert answer("first_order not within 90d and last_order within 7d", buyer).matched
    assert days_ago(1) < NOW
