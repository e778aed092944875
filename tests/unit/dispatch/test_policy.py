"""Dispatch's decisions: consent, address, channel order and fallback, caps, quiet hours."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.dispatch.policy import (
    ChannelState,
    Contact,
    Defer,
    History,
    PreviousMessage,
    Send,
    ShopPolicy,
    Skip,
    plan_message,
)
from shared.events.messages import SkipReason
from shared.events.shop import Channel
from shared.events.triggers import TriggerFired

NOON = datetime(2027, 3, 10, 11, 0, tzinfo=UTC)  # 12:00 in Amsterdam
POLICY = ShopPolicy()
BOTH = Contact(
    email=ChannelState("ada@example.com", consent=True),
    sms=ChannelState("+31612345678", consent=True),
    time_zone="Europe/Amsterdam",
)


def trigger(**changes: Any) -> TriggerFired:
    base: dict[str, Any] = {
        "campaign_id": "abandoned_cart",
        "journey_id": "cart-1",
        "step_id": "reminder-1",
        "step_index": 0,
        "transactional": False,
        "channels": ["email"],
        "template_id": "cart/reminder-1",
        "due_at": NOON,
    }
    return TriggerFired.model_validate({**base, **changes})


def plan(
    fired: TriggerFired,
    contact: Contact = BOTH,
    history: History | None = None,
    now: datetime = NOON,
    templates: tuple[Channel, ...] = (Channel.EMAIL, Channel.SMS),
) -> Send | Defer | Skip:
    return plan_message(fired, contact, history or History(), POLICY, now, templates.__contains__)


def test_marketing_with_consent_goes_out_on_the_steps_channel() -> None:
    assert plan(trigger()) == Send(Channel.EMAIL, "ada@example.com")


def test_without_email_consent_it_falls_back_to_sms_when_a_template_exists() -> None:
    contact = Contact(
        email=ChannelState("ada@example.com", consent=False),
        sms=ChannelState("+31612345678", consent=True),
    )
    assert plan(trigger(), contact) == Send(Channel.SMS, "+31612345678")
    skipped = plan(trigger(), contact, templates=(Channel.EMAIL,))
    assert isinstance(skipped, Skip) and skipped.reason is SkipReason.NO_CONSENT


def test_consent_never_given_is_no_consent() -> None:
    contact = Contact(email=ChannelState("ada@example.com"))
    result = plan(trigger(), contact)
    assert isinstance(result, Skip) and result.reason is SkipReason.NO_CONSENT


def test_transactional_messages_need_only_an_address() -> None:
    contact = Contact(email=ChannelState("ada@example.com", consent=False))
    fired = trigger(transactional=True, campaign_id="order_confirmation")
    assert plan(fired, contact) == Send(Channel.EMAIL, "ada@example.com")


def test_a_hard_bounced_address_is_never_used_even_for_transactional() -> None:
    contact = Contact(
        email=ChannelState("ada@example.com", consent=True, undeliverable="hard bounce"),
        sms=ChannelState("+31612345678", consent=True),
    )
    assert plan(trigger(transactional=True), contact) == Send(Channel.SMS, "+31612345678")
    only_email = Contact(email=contact.email)
    result = plan(trigger(), only_email, templates=(Channel.EMAIL,))
    assert isinstance(result, Skip) and result.reason is SkipReason.SUPPRESSED


def test_no_address_at_all() -> None:
    result = plan(trigger(), Contact())
    assert isinstance(result, Skip) and result.reason is SkipReason.NO_ADDRESS


def test_the_frequency_cap_skips_marketing_but_not_transactional() -> None:
    recent = History(recent_marketing={Channel.EMAIL: [NOON - timedelta(hours=10)]})
    capped = plan(trigger(), history=recent)
    assert isinstance(capped, Skip) and capped.reason is SkipReason.FREQUENCY_CAP
    older = History(recent_marketing={Channel.EMAIL: [NOON - timedelta(hours=17)]})
    assert plan(trigger(), history=older) == Send(Channel.EMAIL, "ada@example.com")
    assert isinstance(plan(trigger(transactional=True), history=recent), Send)


@pytest.mark.parametrize(
    ("utc_now", "resume"),
    [
        (datetime(2027, 3, 10, 21, 30, tzinfo=UTC), datetime(2027, 3, 11, 7, 0, tzinfo=UTC)),
        (datetime(2027, 3, 10, 6, 0, tzinfo=UTC), datetime(2027, 3, 10, 7, 0, tzinfo=UTC)),
        # Amsterdam moves to summer time on 28 March 2027: 08:00 local is then 06:00 UTC.
        (datetime(2027, 3, 27, 22, 0, tzinfo=UTC), datetime(2027, 3, 28, 6, 0, tzinfo=UTC)),
    ],
)
def test_marketing_sms_in_quiet_hours_is_deferred_to_their_end(
    utc_now: datetime, resume: datetime
) -> None:
    fired = trigger(channels=["sms"], due_at=utc_now)
    assert plan(fired, now=utc_now) == Defer(Channel.SMS, resume, "quiet_hours")


def test_quiet_hours_spare_email_daytime_sms_and_transactional_sms() -> None:
    night = datetime(2027, 3, 10, 22, 30, tzinfo=UTC)
    assert isinstance(plan(trigger(due_at=night), now=night), Send)
    assert isinstance(plan(trigger(channels=["sms"])), Send)
    fired = trigger(channels=["sms"], transactional=True, due_at=night)
    assert plan(fired, now=night) == Send(Channel.SMS, "+31612345678")


def test_no_response_on_the_first_channel_switches_to_the_fallback() -> None:
    fired = trigger(
        step_id="reminder-2",
        channels=["email", "sms"],
        fallback={"channel": "sms", "unless": "opened", "within_hours": 12},
    )
    ignored = History(previous=PreviousMessage(Channel.EMAIL, NOON - timedelta(hours=24)))
    assert plan(fired, history=ignored) == Send(Channel.SMS, "+31612345678")
    opened = History(
        previous=PreviousMessage(Channel.EMAIL, NOON - timedelta(hours=24), clicked=True)
    )
    assert plan(fired, history=opened) == Send(Channel.EMAIL, "ada@example.com")
    too_soon = History(previous=PreviousMessage(Channel.EMAIL, NOON - timedelta(hours=2)))
    assert plan(fired, history=too_soon) == Send(Channel.EMAIL, "ada@example.com")


def test_a_preferred_channel_the_step_does_not_offer_is_only_a_fallback() -> None:
    prefers_sms = Contact(
        email=ChannelState("ada@example.com", consent=False),
        sms=ChannelState("+31612345678", consent=True),
        preferred_channel=Channel.SMS,
    )
    assert plan(trigger(channels=["email"]), prefers_sms) == Send(Channel.SMS, "+31612345678")
    both = replace(BOTH, preferred_channel=Channel.SMS)
    assert plan(trigger(channels=["email"]), both) == Send(Channel.EMAIL, "ada@example.com")


def test_the_preferred_channel_goes_first_among_the_steps_own_when_both_have_consent() -> None:
    prefers_sms = replace(BOTH, preferred_channel=Channel.SMS)
    prefers_email = replace(BOTH, preferred_channel=Channel.EMAIL)
    email_first, sms_first = trigger(channels=["email", "sms"]), trigger(channels=["sms", "email"])
    assert plan(email_first, prefers_sms) == Send(Channel.SMS, "+31612345678")
    assert plan(sms_first, prefers_email) == Send(Channel.EMAIL, "ada@example.com")
    assert plan(sms_first, prefers_sms) == Send(Channel.SMS, "+31612345678")
    # Without a preference, the campaign's order stands.
    assert plan(email_first) == Send(Channel.EMAIL, "ada@example.com")
    assert plan(sms_first) == Send(Channel.SMS, "+31612345678")


@pytest.mark.parametrize(
    "sms",
    [
        ChannelState("+31612345678", consent=False, withdrawn=True),
        ChannelState("+31612345678"),
        ChannelState("+31612345678", consent=True, undeliverable="permanent failure 30005"),
        ChannelState(None, consent=True),
    ],
    ids=["withdrawn", "never-given", "undeliverable", "no-number"],
)
def test_a_preferred_channel_without_consent_or_address_changes_nothing(
    sms: ChannelState,
) -> None:
    fired = trigger(channels=["email", "sms"])
    prefers_sms = replace(BOTH, sms=sms, preferred_channel=Channel.SMS)
    assert plan(fired, prefers_sms) == Send(Channel.EMAIL, "ada@example.com")
    # Nothing usable at all: the refusal reads exactly as without a preference.
    nowhere = replace(prefers_sms, email=ChannelState("ada@example.com", consent=False))
    assert plan(fired, nowhere) == plan(fired, replace(nowhere, preferred_channel=None))


def test_a_preferred_channel_needs_another_usable_one_to_go_first() -> None:
    """Only the preferred channel usable: it is used, as the campaign's order would use it."""
    fired = trigger(channels=["email", "sms"])
    only_sms = replace(
        BOTH,
        email=ChannelState("ada@example.com", consent=True, marketing_suppressed="complaint"),
        preferred_channel=Channel.SMS,
    )
    assert plan(fired, only_sms) == Send(Channel.SMS, "+31612345678")
    assert plan(fired, replace(only_sms, preferred_channel=None)) == plan(fired, only_sms)


def test_quiet_hours_and_the_cap_hold_on_the_preferred_channel() -> None:
    prefers_sms = replace(BOTH, preferred_channel=Channel.SMS)
    night = datetime(2027, 3, 10, 21, 30, tzinfo=UTC)  # 22:30 in Amsterdam
    fired = trigger(channels=["email", "sms"], due_at=night)
    deferred = plan(fired, prefers_sms, now=night)
    assert deferred == Defer(Channel.SMS, datetime(2027, 3, 11, 7, 0, tzinfo=UTC), "quiet_hours")
    recent = History(recent_marketing={Channel.SMS: [NOON - timedelta(hours=2)]})
    capped = plan(trigger(channels=["email", "sms"]), prefers_sms, history=recent)
    assert isinstance(capped, Skip) and capped.reason is SkipReason.FREQUENCY_CAP
    assert capped.channel is Channel.SMS


def test_no_response_to_the_previous_message_wins_over_the_preference() -> None:
    fired = trigger(
        step_id="reminder-2",
        channels=["email", "sms"],
        fallback={"channel": "sms", "unless": "opened", "within_hours": 12},
    )
    prefers_email = replace(BOTH, preferred_channel=Channel.EMAIL)
    ignored = History(previous=PreviousMessage(Channel.EMAIL, NOON - timedelta(hours=24)))
    assert plan(fired, prefers_email, history=ignored) == Send(Channel.SMS, "+31612345678")
    opened = History(
        previous=PreviousMessage(Channel.EMAIL, NOON - timedelta(hours=24), opened=True)
    )
    assert plan(fired, prefers_email, history=opened) == Send(Channel.EMAIL, "ada@example.com")


def test_a_transactional_message_follows_the_preference_only_where_there_is_consent() -> None:
    fired = trigger(channels=["email", "sms"], transactional=True, campaign_id="shipping_update")
    prefers_sms = replace(BOTH, preferred_channel=Channel.SMS)
    assert plan(fired, prefers_sms) == Send(Channel.SMS, "+31612345678")
    no_sms_consent = replace(prefers_sms, sms=ChannelState("+31612345678"))
    assert plan(fired, no_sms_consent) == Send(Channel.EMAIL, "ada@example.com")


def test_an_expired_trigger_is_skipped() -> None:
    fired = trigger(expires_at=NOON - timedelta(minutes=1))
    result = plan(fired)
    assert isinstance(result, Skip) and result.reason is SkipReason.EXPIRED


def test_consent_the_customer_withdrew_is_opted_out_not_no_consent() -> None:
    withdrawn = Contact(sms=ChannelState("+31612345678", consent=False, withdrawn=True))
    skipped = plan(trigger(channels=["sms"]), withdrawn)
    assert isinstance(skipped, Skip) and skipped.reason is SkipReason.OPTED_OUT
    assert skipped.channel is Channel.SMS  # the first channel's reason, every channel's detail
    assert skipped.detail == "sms: marketing consent withdrawn; email: no address"
    denied = Contact(sms=ChannelState("+31612345678", consent=False))
    refused = plan(trigger(channels=["sms"]), denied)
    assert isinstance(refused, Skip) and refused.reason is SkipReason.NO_CONSENT
    assert refused.detail == "sms: marketing consent denied; email: no address"


def test_an_opt_out_does_not_stop_transactional_messages() -> None:
    contact = Contact(sms=ChannelState("+31612345678", consent=False, withdrawn=True))
    fired = trigger(channels=["sms"], transactional=True, campaign_id="shipping_update")
    assert plan(fired, contact, templates=(Channel.SMS,)) == Send(Channel.SMS, "+31612345678")


def test_a_dropped_category_is_opted_out_on_every_channel_but_not_transactional() -> None:
    dropped = Contact(
        email=BOTH.email,
        sms=BOTH.sms,
        time_zone=BOTH.time_zone,
        dropped_categories=frozenset({"offers"}),
    )
    skip = plan(trigger(category="offers", channels=["email", "sms"]), dropped)
    assert isinstance(skip, Skip) and skip.reason is SkipReason.OPTED_OUT
    assert skip.detail == "category 'offers' dropped"
    assert plan(trigger(category="tips"), dropped) == Send(Channel.EMAIL, "ada@example.com")
    assert plan(trigger(), dropped) == Send(Channel.EMAIL, "ada@example.com")
    receipt = trigger(category="offers", transactional=True)
    assert plan(receipt, dropped) == Send(Channel.EMAIL, "ada@example.com")
