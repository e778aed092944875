"""The preferred channel from a profile's engagement: response rates once both channels have
enough sends, else the channel the customer last engaged with, else none."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.dispatch.preference import MIN_SENDS, preferred_channel, response_rate
from shared.events.profiles import ChannelEngagement
from shared.events.shop import Channel

T0 = datetime(2027, 3, 1, 12, tzinfo=UTC)


def engagement(**channels: dict[str, Any]) -> dict[Any, ChannelEngagement]:
    return {name: ChannelEngagement.model_validate(data) for name, data in channels.items()}


def test_nothing_known_is_no_preference() -> None:
    assert preferred_channel({}) is None
    assert preferred_channel(engagement(email={"sent": 5}, sms={"sent": 5})) is None


def test_with_little_history_the_channel_engaged_with_last_wins() -> None:
    found = engagement(
        email={"sent": 2, "opened": 1, "last_engaged_at": T0 - timedelta(days=3)},
        sms={"sent": 1, "clicked": 1, "last_engaged_at": T0},
    )
    assert preferred_channel(found) is Channel.SMS
    only_email = engagement(email={"sent": 1, "opened": 1, "last_engaged_at": T0})
    assert preferred_channel(only_email) is Channel.EMAIL


def test_with_enough_sends_on_both_the_better_response_rate_wins() -> None:
    """Clicks and replies per message: the email clicker, though the last reply was an SMS."""
    found = engagement(
        email={"sent": 10, "clicked": 4, "last_engaged_at": T0 - timedelta(days=2)},
        sms={"sent": 10, "replied": 1, "last_engaged_at": T0},
    )
    assert preferred_channel(found) is Channel.EMAIL
    sms_better = engagement(
        email={"sent": 20, "opened": 15, "clicked": 1, "last_engaged_at": T0},
        sms={"sent": MIN_SENDS, "clicked": 1, "last_engaged_at": T0 - timedelta(days=9)},
    )
    assert preferred_channel(sms_better) is Channel.SMS  # opens are not in the rate


def test_rates_are_compared_only_when_both_channels_have_enough_sends() -> None:
    found = engagement(
        email={"sent": 10, "clicked": 5, "last_engaged_at": T0 - timedelta(days=1)},
        sms={"sent": MIN_SENDS - 1, "last_engaged_at": T0},
    )
    assert preferred_channel(found) is Channel.SMS  # by recency


def test_equal_rates_fall_back_to_recency_and_equal_moments_to_none() -> None:
    found = engagement(
        email={"sent": 4, "clicked": 1, "last_engaged_at": T0},
        sms={"sent": 4, "clicked": 1, "last_engaged_at": T0 - timedelta(hours=1)},
    )
    assert preferred_channel(found) is Channel.EMAIL
    same_moment = engagement(
        email={"sent": 1, "clicked": 1, "last_engaged_at": T0},
        sms={"sent": 1, "clicked": 1, "last_engaged_at": T0},
    )
    assert preferred_channel(same_moment) is None


def test_the_response_rate_of_a_channel_never_used_is_zero() -> None:
    assert response_rate(ChannelEngagement()) == 0.0
    assert response_rate(ChannelEngagement(sent=4, clicked=1, replied=1)) == 0.5
