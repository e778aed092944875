"""What each record counts for reports, and under which key (so that it counts once)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from services.feedback.reports.facts import Answer, Fact, Metric, ReplyTags, observe
from shared.events import parse_feedback_event, parse_message_event
from shared.events.conversions import parse_conversion_event
from shared.events.feedback import SurveyKind
from shared.events.types import Money
from tests.support import report_records as r

SHOP = "acme"
DAY = date(2026, 11, 23)


def status(raw: bytes) -> list[object]:
    return list(observe(parse_message_event(raw)))


def feedback(raw: bytes) -> list[object]:
    return list(observe(parse_feedback_event(raw)))


def test_an_email_sent_is_sent_and_delivered_an_sms_sent_only_sent() -> None:
    assert status(r.status(SHOP, "message.sent", "m-1")) == [
        Fact(SHOP, Metric.SENT, "m-1", DAY, "abandoned_cart", "m-1"),
        Fact(SHOP, Metric.DELIVERED, "m-1", DAY, "abandoned_cart", "m-1"),
    ]
    assert status(r.status(SHOP, "message.sent", "m-2", channel="sms")) == [
        Fact(SHOP, Metric.SENT, "m-2", DAY, "abandoned_cart", "m-2"),
    ]


def test_the_providers_word_on_an_sms_is_a_delivery_or_a_bounce() -> None:
    assert status(r.delivery(SHOP, "message.delivered", "m-1")) == [
        Fact(SHOP, Metric.DELIVERED, "m-1", DAY, "abandoned_cart", "m-1")
    ]
    assert status(r.delivery(SHOP, "message.undelivered", "m-1")) == [
        Fact(SHOP, Metric.BOUNCED, "m-1", DAY, "abandoned_cart", "m-1")
    ]


def test_a_failure_is_counted_and_other_statuses_are_not() -> None:
    assert status(r.status(SHOP, "message.failed", "m-1")) == [
        Fact(SHOP, Metric.FAILED, "m-1", DAY, "abandoned_cart", "m-1")
    ]
    for kind in ("message.queued", "message.skipped", "message.deferred"):
        assert status(r.status(SHOP, kind, "m-1")) == [], kind


def test_opens_and_clicks_are_per_message_and_machines_are_counted_apart() -> None:
    cases = [
        ("message.opened", False, Metric.OPENED),
        ("message.clicked", False, Metric.CLICKED),
        ("message.opened", True, Metric.MACHINE_OPENED),
        ("message.clicked", True, Metric.MACHINE_CLICKED),
    ]
    for kind, machine, metric in cases:
        found = feedback(r.engagement(SHOP, kind, "m-1", machine=machine, campaign="cart"))
        assert found == [Fact(SHOP, metric, "m-1", DAY, "cart", "m-1")], kind


def test_an_open_whose_record_names_no_campaign_leaves_it_to_be_found() -> None:
    (found,) = feedback(r.engagement(SHOP, "message.opened", "m-1"))
    assert isinstance(found, Fact) and found.campaign_id is None and found.message_id == "m-1"


def test_a_bounce_counts_only_when_it_names_a_message_of_the_shop() -> None:
    assert feedback(r.bounced(SHOP, "m-1", campaign="cart")) == [
        Fact(SHOP, Metric.BOUNCED, "m-1", DAY, "cart", "m-1")
    ]
    assert feedback(r.bounced(SHOP, None)) == []  # another shop's mail to the same mailbox


def test_replies_unsubscribes_and_complaints_count_per_message_or_per_event() -> None:
    raw = r.reply(SHOP, None, [], event_id="reply-1")
    assert feedback(raw) == [Fact(SHOP, Metric.REPLIED, "event:reply-1", DAY, None, None)]
    (withdrawn,) = feedback(r.unsubscribed(SHOP, "m-1", campaign="cart"))
    assert withdrawn == Fact(SHOP, Metric.UNSUBSCRIBED, "m-1", DAY, "cart", "m-1")
    (complaint,) = feedback(r.complained(SHOP, None))
    assert isinstance(complaint, Fact) and complaint.metric is Metric.COMPLAINED
    assert complaint.subject.startswith("event:")


def test_a_reply_with_tags_keeps_them() -> None:
    found = feedback(r.reply(SHOP, "m-1", ["price", "shipping"], campaign="cart", event_id="e1"))
    assert found == [
        Fact(SHOP, Metric.REPLIED, "m-1", DAY, "cart", "m-1"),
        ReplyTags(SHOP, "e1", DAY, ("price", "shipping"), "cart", "m-1"),
    ]


def test_a_survey_answer_is_kept_per_invitation_with_its_tags() -> None:
    raw = r.answered(SHOP, "m-1", "nps", 9, tags=["quality"], event_id="a1")
    assert feedback(raw) == [
        Answer(SHOP, "m-1", SurveyKind.NPS, 9, r.AT, "a1", ("quality",), "review_request", "m-1")
    ]


def test_a_conversion_counts_its_order_once_with_its_revenue_on_the_orders_day() -> None:
    (found,) = observe(parse_conversion_event(r.conversion(SHOP, "o-1", "m-1", "33.95")))
    assert found == Fact(
        SHOP,
        Metric.CONVERTED,
        "o-1",
        DAY,
        "cross_sell",
        "m-1",
        Money(amount=Decimal("33.95"), currency="EUR"),
    )


def test_a_day_is_the_utc_day() -> None:
    just_after_midnight_in_amsterdam = datetime(
        2026, 11, 24, 0, 30, tzinfo=timezone(timedelta(hours=1))
    )
    raw = r.status(SHOP, "message.failed", "m-1", at=just_after_midnight_in_amsterdam)
    (found,) = status(raw)
    assert isinstance(found, Fact) and found.day == date(2026, 11, 23)


def test_types_reports_do_not_count_state_nothing() -> None:
    granted = r.envelope(SHOP, "consent.granted", {"channel": "email", "source": "one_click"})
    assert feedback(granted) == []
