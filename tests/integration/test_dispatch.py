"""Dispatch end to end: the real broker, PostgreSQL, the SMTP sink and the SMS sink.

Each test uses its own shop, produces the contact's shop events and the trigger itself (as
the triggers service would), and reads what the sinks received and what dispatch said on
`messages.status.v1`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from kafka import KafkaProducer

from deploy.local.demo.storyline import NIGHT_ZONES
from shared.events import trigger_id
from shared.topics import CUSTOMER_PROFILES, FEEDBACK_EVENTS, MESSAGES_STATUS, TRIGGERS_FIRED
from shared.unsubscribe import Unsubscribe, verify
from tests.support.database import run_sql
from tests.support.dispatch_process import TEST_LINK_KEYS, DispatchProcess, Sinks, wait_until
from tests.support.dispatch_profiles import sms_engaged
from tests.support.kafka_records import Record, TopicWindow
from tests.support.shop_stream import ShopStream
from tests.support.shops import unique_shop_id
from tests.support.stack import Stack

BROKEN_SHOP = "broken-templates"
SMS_TIMEOUT_S = 2


@pytest.fixture(scope="module")
def sinks(logs_dir: Path) -> Iterator[Sinks]:
    found = Sinks(logs_dir)
    found.start()
    yield found
    found.stop()


@pytest.fixture(scope="module")
def dispatch(
    stack: Stack, sinks: Sinks, logs_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DispatchProcess]:
    templates = tmp_path_factory.mktemp("shop-templates")
    broken = templates / BROKEN_SHOP / "en" / "cart"
    broken.mkdir(parents=True)
    (broken / "reminder-1.subject.j2").write_text("Your cart, {{ first_name }}")
    (broken / "reminder-1.text.j2").write_text("{{ no_such_variable.items }}")
    (broken / "reminder-1.html.j2").write_text("<p>{{ no_such_variable.items }}</p>")
    process = DispatchProcess(
        stack.kafka_bootstrap,
        stack.database_url,
        sinks,
        logs_dir / "dispatch.log",
        templates_dir=str(templates),
    )
    process.env["NUDGE_TWILIO_TIMEOUT_S"] = str(SMS_TIMEOUT_S)
    process.start()
    yield process
    process.stop()


@pytest.fixture
def statuses(stack: Stack) -> Iterator[TopicWindow]:
    window = TopicWindow(stack.kafka_bootstrap, MESSAGES_STATUS.name)
    yield window
    window.close()


class Shop:
    """One test shop: its customers' events, its triggers, its feedback."""

    def __init__(self, bootstrap: str, shop_id: str | None = None) -> None:
        self.id = shop_id or unique_shop_id()
        self.stream = ShopStream(bootstrap, self.id)
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")

    def close(self) -> None:
        self.stream.close()
        self.producer.close()

    def customer(
        self,
        customer: str,
        *,
        consent: bool = True,
        time_zone: str = "Europe/Amsterdam",
        phone: str = "+14155550123",
    ) -> None:
        now = datetime.now(UTC)
        status = "granted" if consent else "denied"
        given = {"status": status, "source": "signup_form", "recorded_at": now.isoformat()}
        self._send(
            "shop.events.v1",
            customer,
            "customer.created",
            {
                "email": f"{customer}@example.com",
                "phone": phone,
                "first_name": "Ada",
                "time_zone": time_zone,
                "consent": {"email": given, "sms": given},
            },
        )

    def feedback(self, customer: str, kind: str, data: dict[str, Any]) -> None:
        self._send(FEEDBACK_EVENTS.name, customer, kind, data)

    def profile(self, customer: str, engagement: dict[str, Any], monetary: int = 3) -> None:
        """The customer's profile as the segmenter publishes it."""
        data = {
            "orders": 2,
            "revenue": {"amount": "60.00", "currency": "EUR"},
            "lifecycle": "repeat",
            "rfm": {"r": 3, "f": 3, "m": monetary},
            "engagement": engagement,
            "consent": {"email": True, "sms": True},
            "has_email": True,
            "has_phone": True,
        }
        self._send(CUSTOMER_PROFILES.name, customer, "customer.profile", data)

    def trigger(
        self,
        customer: str,
        *,
        campaign: str = "abandoned_cart",
        step: str = "reminder-1",
        template: str = "cart/reminder-1",
        channels: tuple[str, ...] = ("email",),
        transactional: bool = False,
        journey: str | None = None,
        variant: str | None = None,
        fired_at: datetime | None = None,
        category: str | None = None,
    ) -> str:
        journey = journey or f"j-{uuid.uuid4().hex[:8]}"
        the_id = trigger_id(self.id, customer, campaign, journey, step)
        due = fired_at or datetime.now(UTC)
        data: dict[str, Any] = {
            "campaign_id": campaign,
            "journey_id": journey,
            "step_id": step,
            "step_index": 0,
            "transactional": transactional,
            "channels": list(channels),
            "template_id": template,
            "due_at": due.isoformat(),
            "context": {
                "cart": {
                    "items": [{"product_id": "p1", "title": "Coffee beans", "quantity": 2}],
                    "recovery_url": f"https://{self.id}.example/cart/1",
                },
                "order": {
                    "order_id": "o-1",
                    "items": [{"product_id": "p1", "title": "Coffee beans", "quantity": 2}],
                    "total": {"amount": "25.00", "currency": "EUR"},
                },
            },
        }
        if variant:
            data["variant"] = variant
        if category:
            data["category"] = category
        self._send(TRIGGERS_FIRED.name, customer, "trigger.fired", data, event_id=the_id, at=due)
        return the_id

    def _send(
        self,
        topic: str,
        customer: str,
        kind: str,
        data: dict[str, Any],
        *,
        event_id: str | None = None,
        at: datetime | None = None,
    ) -> None:
        record = {
            "specversion": "1.0",
            "id": event_id or str(uuid.uuid4()),
            "source": f"/shops/{self.id}/test",
            "type": kind,
            "time": (at or datetime.now(UTC)).isoformat(),
            "shopid": self.id,
            "customerid": customer,
            "data": data,
        }
        key = f"{self.id}:{customer}".encode()
        self.producer.send(topic, key=key, value=orjson.dumps(record))
        self.producer.flush()


@pytest.fixture
def shop(stack: Stack) -> Iterator[Shop]:
    found = Shop(stack.kafka_bootstrap)
    yield found
    found.close()


def final_status(statuses: TopicWindow, shop: Shop, trigger: str, timeout: float = 30) -> Record:
    """The first status that decides this trigger's fate: not `queued`, and not the wait for
    the contact's shop event (which may reach dispatch after the trigger)."""

    def found() -> Record | None:
        for record in statuses.for_shop(shop.id):
            data = record.value["data"]
            if data["trigger_id"] != trigger or data["status"] == "queued":
                continue
            if data["status"] == "deferred" and data.get("reason") == "contact_unknown":
                continue
            return record
        return None

    result: Record = wait_until(found, timeout, f"a status for trigger {trigger}")
    return result


def emails_to(sinks: Sinks, address: str) -> list[dict[str, Any]]:
    return [m for m in sinks.emails(brief=False)["messages"] if address in m["rcpt_tos"]]


def texts_to(sinks: Sinks, number: str) -> list[dict[str, Any]]:
    return [m for m in sinks.texts()["messages"] if m["to"] == number]


def status_of(statuses: TopicWindow, shop: Shop, trigger: str, kind: str) -> Record | None:
    for record in statuses.for_shop(shop.id):
        if record.value["data"]["trigger_id"] == trigger and record.value["type"] == kind:
            return record
    return None


def header(message: dict[str, Any], name: str) -> str | None:
    for key, value in message["headers"]:
        if key.lower() == name.lower():
            return str(value)
    return None


def test_a_marketing_email_goes_out_with_one_click_unsubscribe(
    dispatch: DispatchProcess, sinks: Sinks, shop: Shop, statuses: TopicWindow
) -> None:
    shop.customer("c1")
    fired = shop.trigger("c1")

    status = final_status(statuses, shop, fired)
    assert status.value["type"] == "message.sent", status.value
    assert status.value["data"]["channel"] == "email"
    (email,) = wait_until(lambda: emails_to(sinks, "c1@example.com"), 10, "the email")
    unsubscribe = header(email, "List-Unsubscribe") or ""
    assert "<https://" in unsubscribe or "<http://" in unsubscribe
    assert "mailto:" not in unsubscribe  # the one-click URL only (sender.py says why)
    assert header(email, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    token = unsubscribe.split("/u/", 1)[1].split(">", 1)[0]  # signed with the link keys alone
    assert verify(TEST_LINK_KEYS, token) == Unsubscribe(shop.id, "c1", "email")
    assert "Ada" in " ".join(email["text_head"]) or "Ada" in email["subject"]


def test_without_marketing_consent_nothing_is_sent_but_transactional_is(
    dispatch: DispatchProcess, sinks: Sinks, shop: Shop, statuses: TopicWindow
) -> None:
    shop.customer("c2", consent=False)
    marketing = shop.trigger("c2")
    order = shop.trigger(
        "c2",
        campaign="order_confirmation",
        step="confirmation",
        template="order/confirmation",
        transactional=True,
    )

    skipped = final_status(statuses, shop, marketing)
    assert skipped.value["type"] == "message.skipped"
    assert skipped.value["data"]["reason"].startswith("no_consent")
    sent = final_status(statuses, shop, order)
    assert sent.value["type"] == "message.sent"
    (email,) = wait_until(lambda: emails_to(sinks, "c2@example.com"), 10, "the confirmation")
    assert header(email, "List-Unsubscribe") is None


def test_an_opt_out_recorded_before_the_send_wins_over_an_earlier_trigger(
    dispatch: DispatchProcess, sinks: Sinks, shop: Shop, statuses: TopicWindow
) -> None:
    shop.customer("c3")
    fired_at = datetime.now(UTC)
    time.sleep(0.2)
    shop.feedback("c3", "consent.withdrawn", {"channel": "email", "source": "one_click"})
    fired = shop.trigger("c3", fired_at=fired_at)

    status = final_status(statuses, shop, fired)
    assert status.value["type"] == "message.skipped"
    assert emails_to(sinks, "c3@example.com") == []


def test_a_category_dropped_on_the_preference_page_skips_its_messages_only(
    dispatch: DispatchProcess, sinks: Sinks, shop: Shop, statuses: TopicWindow
) -> None:
    shop.customer("c-topics")
    fired_at = datetime.now(UTC)
    time.sleep(0.2)
    dropped = {"category": "offers", "subscribed": False, "source": "preference_center"}
    shop.feedback("c-topics", "category.preference_changed", dropped)
    offer = shop.trigger("c-topics", category="offers", fired_at=fired_at)
    skipped = final_status(statuses, shop, offer)
    assert skipped.value["type"] == "message.skipped", skipped.value
    assert skipped.value["data"]["reason"] == "opted_out: category 'offers' dropped"
    tip = shop.trigger("c-topics", category="tips")
    sent = final_status(statuses, shop, tip)
    assert sent.value["type"] == "message.sent", sent.value
    assert len(emails_to(sinks, "c-topics@example.com")) == 1


def test_the_frequency_cap_skips_a_second_marketing_message(
    dispatch: DispatchProcess, shop: Shop, statuses: TopicWindow
) -> None:
    shop.customer("c4")
    first = shop.trigger("c4")
    assert final_status(statuses, shop, first).value["type"] == "message.sent"
    second = shop.trigger(
        "c4", campaign="browse_abandonment", step="reminder", template="browse/reminder"
    )
    status = final_status(statuses, shop, second)
    assert status.value["type"] == "message.skipped"
    assert status.value["data"]["reason"].startswith("frequency_cap")


def test_a_message_still_with_the_provider_counts_against_the_cap(
    dispatch: DispatchProcess, sinks: Sinks, shop: Shop, statuses: TopicWindow
) -> None:
    """The sender decides the next batch while earlier ones are sending: an email the relay
    has not answered yet must already count, or the cap would let a second one through."""
    shop.customer("c4b")
    sinks.control_smtp(delay_ms=4000)  # recorded at once, answered four seconds later
    try:
        first = shop.trigger("c4b")
        wait_until(lambda: emails_to(sinks, "c4b@example.com"), 30, "the first email arrives")
        second = shop.trigger(
            "c4b", campaign="browse_abandonment", step="reminder", template="browse/reminder"
        )
        status = final_status(statuses, shop, second)
        assert status.value["type"] == "message.skipped"
        assert status.value["data"]["reason"].startswith("frequency_cap")
    finally:
        sinks.control_smtp(delay_ms=0)
    assert final_status(statuses, shop, first).value["type"] == "message.sent"
    assert len(emails_to(sinks, "c4b@example.com")) == 1


def _zone_at_night() -> tuple[str, datetime]:
    """A time zone where it is night now, and when its quiet hours end (UTC)."""
    now = datetime.now(UTC)
    for zone in NIGHT_ZONES:
        local = now.astimezone(ZoneInfo(zone))
        if local.hour >= 22 or local.hour < 6:
            day = local.date() + (timedelta(days=1) if local.hour >= 22 else timedelta())
            resume = datetime(day.year, day.month, day.day, 8, tzinfo=ZoneInfo(zone))
            return zone, resume.astimezone(UTC)
    raise AssertionError("no zone at night: extend the list")


def test_a_marketing_sms_in_quiet_hours_is_deferred_not_dropped(
    dispatch: DispatchProcess, sinks: Sinks, shop: Shop, statuses: TopicWindow
) -> None:
    zone, resume = _zone_at_night()
    texts_before = sinks.texts()["count"]
    shop.customer("c5", time_zone=zone)
    fired = shop.trigger("c5", step="reminder-3", template="cart/reminder-3", channels=("sms",))
    status = final_status(statuses, shop, fired)
    assert status.value["type"] == "message.deferred", status.value
    assert status.value["data"]["reason"] == "quiet_hours"
    until = datetime.fromisoformat(status.value["data"]["until"].replace("Z", "+00:00"))
    assert until == resume
    assert sinks.texts()["count"] == texts_before


def test_a_hard_bounced_address_falls_back_to_sms(
    dispatch: DispatchProcess, sinks: Sinks, shop: Shop, statuses: TopicWindow
) -> None:
    zone = "UTC" if 8 <= datetime.now(UTC).hour < 21 else "Asia/Tokyo"
    if not 8 <= datetime.now(UTC).astimezone(ZoneInfo(zone)).hour < 21:
        zone = "America/New_York"
    shop.customer("c6", time_zone=zone)
    shop.feedback("c6", "email.bounced", {"email": "c6@example.com", "kind": "hard"})
    time.sleep(1)
    fired = shop.trigger(
        "c6", step="reminder-2", template="cart/reminder-2", channels=("email", "sms")
    )
    status = final_status(statuses, shop, fired)
    assert status.value["type"] == "message.sent", status.value
    assert status.value["data"]["channel"] == "sms"


def test_a_template_that_cannot_render_is_not_sent_and_says_why(
    stack: Stack, dispatch: DispatchProcess, sinks: Sinks, statuses: TopicWindow
) -> None:
    shop = Shop(stack.kafka_bootstrap, BROKEN_SHOP)
    try:
        shop.customer("c7")
        fired = shop.trigger("c7")
        status = final_status(statuses, shop, fired)
    finally:
        shop.close()
    assert status.value["type"] == "message.skipped"
    assert "render_error" in status.value["data"]["reason"]
    assert "no_such_variable" in status.value["data"]["reason"]
    assert emails_to(sinks, "c7@example.com") == []


def test_the_same_trigger_twice_sends_once_and_keeps_its_variant(
    dispatch: DispatchProcess, sinks: Sinks, shop: Shop, statuses: TopicWindow
) -> None:
    shop.customer("c8")
    journey = "segment-entry-1"
    first = shop.trigger(
        "c8",
        campaign="win_back",
        step="offer",
        template="win-back/offer",
        journey=journey,
        variant="newest",
    )
    again = shop.trigger(
        "c8",
        campaign="win_back",
        step="offer",
        template="win-back/offer",
        journey=journey,
        variant="newest",
    )
    assert first == again
    status = final_status(statuses, shop, first)
    assert status.value["type"] == "message.sent"
    assert status.value["data"]["variant"] == "newest"
    time.sleep(2)
    assert len(emails_to(sinks, "c8@example.com")) == 1


def _zone_in_daytime() -> str:
    now = datetime.now(UTC)
    for zone in (
        "UTC",
        "Asia/Tokyo",
        "America/New_York",
        "Asia/Kolkata",
        "Pacific/Auckland",
        "America/Los_Angeles",
        "Europe/Amsterdam",
    ):
        if 9 <= now.astimezone(ZoneInfo(zone)).hour < 20:
            return zone
    raise AssertionError("no zone in daytime: extend the list")


def test_a_provider_opt_out_falls_back_to_email_until_the_customer_opts_in_again(
    dispatch: DispatchProcess, sinks: Sinks, shop: Shop, statuses: TopicWindow
) -> None:
    sinks.control_sms(opted_out=["+14155550123"])
    try:
        shop.customer("c9", time_zone=_zone_in_daytime())
        fired = shop.trigger(
            "c9", step="reminder-3", template="cart/reminder-3", channels=("sms", "email")
        )
        record: Record = wait_until(
            lambda: status_of(statuses, shop, fired, "message.sent"), 30, "the fallback email"
        )
    finally:
        sinks.control_sms(opted_out=[])
    assert record.value["data"]["channel"] == "email"
    requeued = [
        r.value["data"]["reason"]
        for r in statuses.for_shop(shop.id)
        if r.value["data"]["trigger_id"] == fired
        and r.value["type"] == "message.queued"
        and r.value["data"].get("reason")
    ]
    assert requeued and "opted out at the provider" in requeued[0]
    later = shop.trigger(
        "c9",
        campaign="browse_abandonment",
        step="reminder",
        template="browse/reminder",
        channels=("sms",),
    )
    status = final_status(statuses, shop, later)
    assert status.value["type"] == "message.skipped"  # consent withdrawn, number unusable

    # The customer texts START: consent again, newer than the provider's opt-out.
    shop.feedback("c9", "consent.granted", {"channel": "sms", "source": "sms_keyword"})
    again = shop.trigger(
        "c9",
        campaign="win_back",
        step="follow-up",
        template="win-back/follow-up",
        channels=("sms",),
    )
    status = final_status(statuses, shop, again)
    assert status.value["type"] == "message.sent", status.value["data"]
    assert status.value["data"]["channel"] == "sms"


def test_an_sms_whose_answer_was_lost_is_found_at_the_provider_not_sent_again(
    dispatch: DispatchProcess, sinks: Sinks, shop: Shop, statuses: TopicWindow
) -> None:
    """Twilio keeps no idempotency key: after a timeout the repeat would be a second text.
    The sink behaves the same (it never deduplicates) and is told to answer after dispatch
    gave up waiting; the retry finds the first message in the Messages list instead of
    resending."""
    number = "+14155550999"
    sinks.control_sms(delay_ms=(SMS_TIMEOUT_S + 2) * 1000)
    try:
        shop.customer("c10", time_zone=_zone_in_daytime(), phone=number)
        fired = shop.trigger(
            "c10", step="reminder-3", template="cart/reminder-3", channels=("sms",)
        )
        wait_until(lambda: texts_to(sinks, number), 30, "the first text")
        sinks.control_sms(delay_ms=0)
        first = final_status(statuses, shop, fired)
        assert first.value["type"] == "message.deferred"  # timed out: retried later
        status = wait_until(lambda: status_of(statuses, shop, fired, "message.sent"), 60, "sent")
    finally:
        sinks.control_sms(delay_ms=0)
    time.sleep(1)
    texts = texts_to(sinks, number)
    assert len(texts) == 1, texts
    assert status.value["data"]["provider_id"] == texts[0]["sid"]


@pytest.mark.integration
def test_a_profile_with_sms_engagement_sends_a_two_channel_step_by_sms_first(
    stack: Stack, dispatch: DispatchProcess, sinks: Sinks, shop: Shop, statuses: TopicWindow
) -> None:
    """The segmenter's profile on `customer.profiles.v1` says the customer clicks SMS: a step
    offering email then SMS goes by SMS; the same step for a customer without a profile keeps
    the campaign's order."""
    zone = _zone_in_daytime()  # no quiet hours in the way
    for customer in ("c11", "c12"):
        shop.customer(customer, time_zone=zone, phone="+14155550111")
    shop.profile("c11", sms_engaged(datetime.now(UTC)))

    def stored() -> list[Any]:
        sql = "SELECT preferred_channel FROM dispatch_profiles WHERE shop_id = :shop"
        return run_sql(stack.database_url, sql, shop=shop.id)

    assert wait_until(stored, 30, "the profile stored")[0][0] == "sms"
    steps = {
        customer: shop.trigger(
            customer, step="reminder-2", template="cart/reminder-2", channels=("email", "sms")
        )
        for customer in ("c11", "c12")
    }

    by_sms = final_status(statuses, shop, steps["c11"])
    assert by_sms.value["type"] == "message.sent", by_sms.value
    assert by_sms.value["data"]["channel"] == "sms"
    by_email = final_status(statuses, shop, steps["c12"])
    assert by_email.value["type"] == "message.sent", by_email.value
    assert by_email.value["data"]["channel"] == "email"
    wait_until(lambda: emails_to(sinks, "c12@example.com"), 10, "c12's email")
    assert emails_to(sinks, "c11@example.com") == []
