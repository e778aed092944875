"""Which channel a customer engages with best, from the engagement counters of their profile.

Pure and small on purpose: dispatch keeps only the answer per customer (dispatch_profiles), so
the rule is applied where profiles are taken in (profiles.py), never per message. The rule:

1. evidence first: when both channels have at least `MIN_SENDS` messages sent, the one with the
   higher response rate — clicks and replies by a person per message sent — when it is strictly
   higher (opens are left out of the rate: SMS has none, so counting them would always favour
   email);
2. otherwise recency: the channel the customer last engaged with (an open, a click, a reply by
   a person: the segmenter counts no machine's);
3. otherwise none: without a preference, the campaign's order stands.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

from shared.events.profiles import ChannelEngagement
from shared.events.shop import Channel

MIN_SENDS: Final = 3
"""Messages sent on each channel before their response rates are compared."""
Name = Literal["email", "sms"]
"""A channel as the profile names it."""
_NAMES: Final[dict[Channel, Name]] = {Channel.EMAIL: "email", Channel.SMS: "sms"}


def preferred_channel(engagement: Mapping[Name, ChannelEngagement]) -> Channel | None:
    """The customer's preferred channel by the rule above, or None when nothing tells."""
    measured = {
        channel: response_rate(found)
        for channel in Channel
        if (found := engagement.get(_NAMES[channel])) is not None and found.sent >= MIN_SENDS
    }
    if len(measured) == len(Channel):
        best = max(measured.values())
        leaders = [channel for channel, rate in measured.items() if rate == best]
        if best > 0 and len(leaders) == 1:
            return leaders[0]
    engaged = [
        (found.last_engaged_at, channel)
        for channel in Channel
        if (found := engagement.get(_NAMES[channel])) is not None
        and found.last_engaged_at is not None
    ]
    if not engaged:
        return None
    engaged.sort(key=lambda item: item[0], reverse=True)
    if len(engaged) > 1 and engaged[0][0] == engaged[1][0]:
        return None  # the same moment on both: nothing tells them apart
    return engaged[0][1]


def response_rate(engagement: ChannelEngagement) -> float:
    """Clicks and replies per message sent (0 when none was sent)."""
    if engagement.sent <= 0:
        return 0.0
    return (engagement.clicked + engagement.replied) / engagement.sent
