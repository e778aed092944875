"""Opens and clicks as `feedback.events.v1` records, with ids that make repeats harmless.

One event per message, target (clicks), who (a person, or a machine whatever the reason) and
clock hour: a mail client showing the message again, a double click, a scanner coming back,
within the hour, publish the same id, which every consumer drops (README, "Duplicates");
each is still counted (nudge_feedback_tracked_total). A later hour is a new event, so what is
recent stays visible to what looks at time (attribution's windows start at the last touch),
and a person's open is never hidden behind a machine's earlier one (Apple's proxy fetches the
pixel on delivery; the first human open is what dispatch's "no response" fallback needs).
"""

from __future__ import annotations

from datetime import datetime

from services.feedback.directory import SentMessage
from shared.events import derived_event_id
from shared.events.feedback import (
    Engagement,
    MachineReason,
    MessageClickedEvent,
    MessageOpenedEvent,
    MessageRef,
)
from shared.events.shop import Channel
from shared.link_targets import MAX_LENGTH
from shared.tracking_links import Click, Tracked

HOUR_S = 3600


def _ref(tracked: Tracked, message: SentMessage | None) -> MessageRef:
    if message is None:
        return MessageRef(message_id=tracked.message_id)
    return MessageRef(
        message_id=tracked.message_id,
        trigger_id=message.trigger_id,
        campaign_id=message.campaign_id,
    )


def event_id(
    kind: str, tracked: Tracked, reason: MachineReason | None, now: datetime, url: str = ""
) -> str:
    who = "human" if reason is None else "machine"
    hour = str(int(now.timestamp()) // HOUR_S)
    origin = "\x1f".join((tracked.customer_id, tracked.message_id, url, who, hour))
    return derived_event_id(tracked.shop_id, kind, origin)


def opened(
    tracked: Tracked, message: SentMessage | None, reason: MachineReason | None, now: datetime
) -> MessageOpenedEvent:
    """An open of an email (the pixel is only in email)."""
    return MessageOpenedEvent(
        id=event_id("message.opened", tracked, reason, now),
        source=f"/shops/{tracked.shop_id}/feedback",
        time=now,
        shopid=tracked.shop_id,
        customerid=tracked.customer_id,
        data=Engagement(
            channel=Channel.EMAIL,
            message=_ref(tracked, message),
            machine=reason is not None,
            reason=reason,
        ),
    )


def clicked(
    click: Click, message: SentMessage | None, reason: MachineReason | None, now: datetime
) -> MessageClickedEvent:
    """A click on a tracked link; its channel when the index knows the message."""
    tracked = click.tracked
    return MessageClickedEvent(
        id=event_id("message.clicked", tracked, reason, now, click.url),
        source=f"/shops/{tracked.shop_id}/feedback",
        time=now,
        shopid=tracked.shop_id,
        customerid=tracked.customer_id,
        data=Engagement(
            channel=message.channel if message is not None else None,
            message=_ref(tracked, message),
            url=click.url if len(click.url) <= MAX_LENGTH else None,
            machine=reason is not None,
            reason=reason,
        ),
    )
