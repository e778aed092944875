"""The oracle on hand-built timelines with known answers (tests/unit/e2e/oracle/story.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.simulator.command import Plan
from services.simulator.formats import Format
from services.simulator.replies import Reply, ReplyKind
from shared.events.segments import SegmentChange, SegmentEnteredEvent
from tests.e2e.oracle import OracleConfig, predict
from tests.unit.e2e.oracle.story import START, Story, minutes_after_start, person


def test_an_abandoned_cart_gets_its_first_reminder_half_an_hour_later() -> None:
    answer = Story(person()).profile(0).cart(10).judge(until_minutes=120)
    (reminder,) = answer.sent("abandoned_cart", "reminder-1")
    assert reminder.channel == "email"
    assert reminder.certain
    assert minutes_after_start(reminder.due_at) == 40
    assert reminder.send_after == reminder.due_at
    assert not reminder.transactional


def test_a_purchase_ten_minutes_after_the_cart_withholds_the_reminder_for_certain() -> None:
    answer = Story(person()).profile(0).cart(10).buy(20).judge(until_minutes=120)
    assert answer.sent("abandoned_cart", "reminder-1") == []
    (held,) = answer.held("abandoned_cart", "reminder-1")
    assert (held.reason, held.certain) == ("order_placed", True)
    assert minutes_after_start(held.decided_at) == 20


def test_a_purchase_within_the_margin_of_the_reminder_is_left_uncertain() -> None:
    answer = Story(person()).profile(0).cart(10).buy(38).judge(until_minutes=120, margin_minutes=5)
    decided = answer.sent("abandoned_cart", "reminder-1") + answer.held(
        "abandoned_cart", "reminder-1"
    )
    assert decided
    assert all(not item.certain for item in decided)
    assert all(item.why_uncertain for item in decided)


def test_the_order_confirmation_goes_out_without_marketing_consent() -> None:
    who = person(email_consent=False)
    answer = Story(who).profile(0).cart(10).buy(20).judge(until_minutes=120)
    (confirmation,) = answer.sent("order_confirmation", "confirmation")
    assert (confirmation.channel, confirmation.transactional, confirmation.certain) == (
        "email",
        True,
        True,
    )
    assert answer.sent("abandoned_cart", "reminder-1") == []


def test_marketing_email_without_email_consent_is_withheld_for_no_consent() -> None:
    who = person(email_consent=False, phone="+12025550100", sms_consent=True)
    answer = Story(who).profile(0).cart(10).judge(until_minutes=120)
    assert answer.sent("abandoned_cart", "reminder-1") == []
    assert {
        (w.channel, w.reason, w.certain) for w in answer.held("abandoned_cart", "reminder-1")
    } == {("email", "no_consent", True)}


def test_marketing_sms_waits_for_the_end_of_quiet_hours() -> None:
    who = person(email_consent=False, phone="+12025550100", sms_consent=True)
    # Cart at 03:00 UTC: reminder-2 is due at 03:00 the next day, in quiet hours (21-08).
    answer = Story(who).profile(170).cart(180).judge(until_minutes=3 * 24 * 60)
    (reminder,) = answer.sent("abandoned_cart", "reminder-2")
    assert reminder.channel == "sms"
    assert reminder.due_at == datetime(2026, 12, 8, 3, 0, tzinfo=UTC)
    assert reminder.send_after == datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    assert reminder.certain


def _stop_after_an_hour(
    customer: object, message_id: str, channel: str, **_: object
) -> tuple[Reply, ...]:
    if channel == "sms":
        return (Reply(ReplyKind.STOP, timedelta(hours=1)),)
    return ()


def test_a_stop_reply_withholds_later_marketing_sms() -> None:
    who = person(email_consent=False, phone="+12025550100", sms_consent=True)
    story = Story(who).profile(170).cart(180)
    answer = story.judge(until_minutes=5 * 24 * 60, replies_to=_stop_after_an_hour)
    (second,) = answer.sent("abandoned_cart", "reminder-2")
    assert second.channel == "sms"
    assert answer.sent("abandoned_cart", "reminder-3") == []
    held = answer.held("abandoned_cart", "reminder-3")
    assert {w.channel for w in held} == {"sms", "email"}
    assert {(w.reason, w.certain) for w in held} == {("opted_out", True)}
    without_stop = story.judge(until_minutes=5 * 24 * 60)
    assert [e.channel for e in without_stop.sent("abandoned_cart", "reminder-3")] == ["sms"]


def test_no_reply_is_counted_after_the_inboxes_stopped() -> None:
    """The STOP to reminder-2 would come after the simulator's inboxes closed: it never
    reaches feedback, so reminder-3 still goes by SMS."""
    who = person(email_consent=False, phone="+12025550100", sms_consent=True)
    story = Story(who).profile(170).cart(180)
    (second,) = story.judge(until_minutes=5 * 24 * 60).sent("abandoned_cart", "reminder-2")
    closed = minutes_after_start(second.send_after)
    answer = story.judge(
        until_minutes=5 * 24 * 60,
        replies_to=_stop_after_an_hour,
        replies_until_minutes=closed + 30,
    )
    assert [e.channel for e in answer.sent("abandoned_cart", "reminder-3")] == ["sms"]


def test_the_segmenters_vip_entry_starts_the_vip_campaign() -> None:
    """The segmenter is not modelled: its published entry is input, as triggers reads it."""
    who = person()
    story = Story(who).profile(60)
    entered = SegmentEnteredEvent(
        id="seg-entry-1",
        source="/segmenter",
        time=START + timedelta(hours=2),
        shopid=who.shop,
        customerid=who.customer_id,
        data=SegmentChange(segment_id="vip", entry=1),
    )
    answer = story.judge(until_minutes=24 * 60, segment_events=[entered])
    (welcome,) = answer.sent("vip", "welcome-vip")
    assert (welcome.channel, welcome.due_at, welcome.certain) == ("email", entered.time, True)
    assert story.judge(until_minutes=24 * 60).sent("vip", "welcome-vip") == []


def test_a_bouncing_address_is_refused_once_then_sms_takes_over() -> None:
    who = person(bounces=True, phone="+12025550100", sms_consent=True)
    story = Story(who).profile(0).cart(10).buy(20).ship(600).out_for_delivery(1200)
    answer = story.judge(until_minutes=2000)
    (bounced,) = answer.held("order_confirmation", "confirmation")
    assert (bounced.channel, bounced.reason, bounced.certain) == ("email", "bounced", True)
    assert answer.sent("order_confirmation", "confirmation") == []
    updates = answer.sent("shipping_update", "update")  # shipped, then out for delivery
    assert [e.channel for e in updates] == ["sms", "sms"]
    assert all(e.certain and e.transactional for e in updates)
    refused_later = [w for w in answer.held("shipping_update", "update") if w.channel == "email"]
    assert [w.reason for w in refused_later] == ["sent by sms", "sent by sms"]


def test_a_step_due_after_the_end_of_observation_is_not_expected() -> None:
    answer = Story(person()).profile(0).cart(10).judge(until_minutes=35, margin_minutes=1)
    assert answer.sent("abandoned_cart", "reminder-1") == []
    close = Story(person()).profile(0).cart(10).judge(until_minutes=42, margin_minutes=5)
    (reminder,) = close.sent("abandoned_cart", "reminder-1")
    assert not reminder.certain


def test_the_same_plan_gives_the_same_messages_twice() -> None:
    shops = (
        ("sim-shopify", Format.SHOPIFY),
        ("sim-segment", Format.SEGMENT),
        ("sim-native", Format.NATIVE),
    )
    plan = Plan(seed=3, customers=24, days=3, start=START, shops=shops)
    until = START + timedelta(days=3)
    first = predict(plan, OracleConfig.e2e(), until=until, margin=timedelta(minutes=10))
    second = predict(plan, OracleConfig.e2e(), until=until, margin=timedelta(minutes=10))
    assert first.expected, "a few days of two dozen customers send something"
    assert first.expected == second.expected
    assert first.withheld == second.withheld
    assert first.events == second.events > 0
    some = first.expected[0]
    lines = first.history(some.shop_id, some.customer_id)
    assert any(some.message_id in line for line in lines)
