"""Open and click events: what they say, and ids that repeat within the hour for one message,
target and kind of visitor, and only then."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from services.feedback.directory import ContactRef, SentMessage
from services.feedback.tracking.records import clicked, opened
from shared.events.feedback import MachineReason, MessageRef
from shared.events.shop import Channel
from shared.tracking_links import Click, Tracked

AT = datetime(2027, 3, 1, 12, 5, tzinfo=UTC)
TRACKED = Tracked("acme", "c1", str(uuid.uuid4()))
CLICK = Click(TRACKED, "https://acme.example/cart")
SENT = SentMessage(
    message_id=TRACKED.message_id,
    ref=ContactRef("acme", "c1"),
    channel=Channel.SMS,
    trigger_id="t-1",
    campaign_id="abandoned_cart",
    transactional=False,
    provider_id="SM1",
    sent_at=AT - timedelta(hours=1),
)


def test_a_click_names_the_message_its_campaign_channel_and_target() -> None:
    event = clicked(CLICK, SENT, None, AT)
    assert (event.type, event.key, event.time) == ("message.clicked", "acme:c1", AT)
    assert event.data.message == MessageRef(
        message_id=TRACKED.message_id, trigger_id="t-1", campaign_id="abandoned_cart"
    )
    assert (event.data.channel, event.data.url) == (Channel.SMS, "https://acme.example/cart")
    assert (event.data.machine, event.data.reason) == (False, None)


def test_without_the_index_a_click_names_the_message_alone() -> None:
    event = clicked(CLICK, None, None, AT)
    assert event.data.message == MessageRef(message_id=TRACKED.message_id)
    assert event.data.channel is None


def test_an_open_is_an_emails_and_may_be_a_machines() -> None:
    event = opened(TRACKED, None, MachineReason.APPLE_PRIVACY_PROXY, AT)
    assert (event.type, event.data.channel) == ("message.opened", Channel.EMAIL)
    assert (event.data.machine, event.data.reason) == (True, MachineReason.APPLE_PRIVACY_PROXY)


def test_repeats_within_the_hour_share_an_id() -> None:
    first = clicked(CLICK, SENT, None, AT)
    assert clicked(CLICK, None, None, AT + timedelta(minutes=54)).id == first.id
    assert opened(TRACKED, SENT, None, AT).id == opened(TRACKED, None, None, AT).id


def test_a_new_hour_another_target_a_machine_or_an_open_is_another_event() -> None:
    first = clicked(CLICK, SENT, None, AT)
    others = {
        clicked(CLICK, SENT, None, AT + timedelta(minutes=55)).id,
        clicked(Click(TRACKED, "https://acme.example/other"), SENT, None, AT).id,
        clicked(CLICK, SENT, MachineReason.SCANNER, AT).id,
        opened(TRACKED, SENT, None, AT).id,
        clicked(Click(Tracked("acme", "c1", str(uuid.uuid4())), CLICK.url), SENT, None, AT).id,
    }
    assert first.id not in others and len(others) == 5


def test_a_machines_reasons_share_one_event_per_hour() -> None:
    assert (
        opened(TRACKED, None, MachineReason.APPLE_PRIVACY_PROXY, AT).id
        == opened(TRACKED, None, MachineReason.HEAD_REQUEST, AT).id
    )
