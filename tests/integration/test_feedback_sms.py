"""Two-way SMS end to end: the real feedback, dispatch and triggers processes, the SMS sink,
the broker and PostgreSQL, all on one scaled clock (campaign time runs 900 times faster).

- A marketing SMS held back by quiet hours; the customer texts STOP (signed as Twilio signs)
  → feedback publishes the withdrawal → the held SMS is skipped with `opted_out` when its time
  comes, and the triggers worker ends the customer's marketing journeys.
- HELP gets the shop's own help text.
- The sink reports a message undelivered with a permanent code (a signed status callback, as
  Twilio sends it) → dispatch marks the number unusable and skips the next SMS.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import orjson
import pytest
from kafka import KafkaProducer
from sqlalchemy.ext.asyncio import create_async_engine

from deploy.local.sinks.sms_sink import DEFAULT_AUTH_TOKEN
from services.feedback.directory import ContactRef
from services.feedback.directory.postgres import PostgresDirectory
from shared.clock import ScaledClock
from shared.events import catalog as ev
from shared.events import dump_shop_event, shop, trigger_id
from shared.events.types import Money
from shared.topics import FEEDBACK_EVENTS, MESSAGES_STATUS, SHOP_EVENTS, TRIGGERS_FIRED
from tests.support import twilio
from tests.support.dispatch_process import DispatchProcess, Sinks, wait_until
from tests.support.faust_process import TriggersProcess
from tests.support.feedback_process import running_feedback
from tests.support.kafka_records import Record, TopicWindow
from tests.support.shops import unique_shop_id
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

SCALE = 900.0
"""Campaign seconds per wall-clock second: an hour of quiet hours passes in 4 seconds."""
SHARED_NUMBER = "+15005550006"
HELP_TEXT = "$brand: cart reminders and order news. Msg&data rates may apply. Reply STOP to stop."


@pytest.fixture(scope="module")
def shop_id() -> str:
    return unique_shop_id("sms")


@pytest.fixture(scope="module")
def clock() -> ScaledClock:
    return ScaledClock(origin=time.time(), scale=SCALE)


@pytest.fixture(scope="module")
def feedback_url(
    stack: Stack,
    logs_dir: Path,
    clock: ScaledClock,
    shop_id: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    shops = tmp_path_factory.mktemp("feedback-shops")
    (shops / f"{shop_id}.yaml").write_text(
        f'sms: {{brand: SMS Test Shop, support: help@sms.example, help: "{HELP_TEXT}"}}\n'
    )
    with running_feedback(
        stack.kafka_bootstrap,
        stack.database_url,
        logs_dir / "feedback-sms.log",
        own_url=True,
        twilio_auth_token=DEFAULT_AUTH_TOKEN,  # the sink's account signs its callbacks
        shops_dir=str(shops),
        sms_status_wait_s="5",
        time_scale=str(clock.scale),
        clock_origin=str(clock.origin),
    ) as base:
        yield base


@pytest.fixture(scope="module")
def sinks(logs_dir: Path) -> Iterator[Sinks]:
    found = Sinks(logs_dir)
    found.start()
    yield found
    found.stop()


@pytest.fixture(scope="module")
def dispatch(
    stack: Stack, sinks: Sinks, logs_dir: Path, clock: ScaledClock, feedback_url: str
) -> Iterator[DispatchProcess]:
    process = DispatchProcess(
        stack.kafka_bootstrap,
        stack.database_url,
        sinks,
        logs_dir / "dispatch-sms.log",
        time_scale=str(clock.scale),
        clock_origin=str(clock.origin),
        sms_status_callback_url=f"{feedback_url}/sms/status",
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def triggers_worker(
    stack: Stack,
    logs_dir: Path,
    clock: ScaledClock,
    shop_id: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TriggersProcess]:
    campaigns = tmp_path_factory.mktemp("sms-campaigns")
    (campaigns / f"{shop_id}.yaml").write_text(
        """extends: default
campaigns:
  abandoned_cart:          # reminders by SMS, for this test's shop
    steps:
      - {id: reminder-1, delay: 30m, channels: [sms], template: cart/reminder-2}
      - {id: reminder-2, delay: 24h, channels: [sms], template: cart/reminder-3}
"""
    )
    process = TriggersProcess(
        stack.kafka_bootstrap,
        tmp_path_factory.mktemp("sms-triggers-data"),
        logs_dir / "triggers-sms.log",
        app_id=f"test-triggers-sms-{int(time.time())}",
        time_scale=clock.scale,
        clock_origin=clock.origin,
        campaigns_dir=campaigns,
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
def windows(stack: Stack) -> Iterator[dict[str, TopicWindow]]:
    found = {
        topic: TopicWindow(stack.kafka_bootstrap, topic)
        for topic in (MESSAGES_STATUS.name, FEEDBACK_EVENTS.name, TRIGGERS_FIRED.name)
    }
    yield found
    for window in found.values():
        window.close()


class Customers:
    """The test shop's customers and triggers, produced as ingest and triggers would."""

    def __init__(self, bootstrap: str, shop_id: str, clock: ScaledClock) -> None:
        self.shop_id = shop_id
        self.clock = clock
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")

    def close(self) -> None:
        self.producer.close()

    def _send(self, topic: str, key: str, value: bytes) -> None:
        self.producer.send(topic, key=key.encode(), value=value)
        self.producer.flush()

    def _envelope(self, customer: str) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "source": f"/shops/{self.shop_id}/test",
            "time": self.clock.now(),
            "shopid": self.shop_id,
            "customerid": customer,
        }

    def sms_only(self, customer: str, phone: str, zone: str) -> None:
        """A customer who gave SMS consent (an hour ago) and denied email; an update, so that
        no welcome series starts."""
        an_hour_ago = self.clock.now() - timedelta(hours=1)
        granted = shop.ChannelConsent(
            status=shop.ConsentStatus.GRANTED, source="signup_form", recorded_at=an_hour_ago
        )
        denied = granted.model_copy(update={"status": shop.ConsentStatus.DENIED})
        data = shop.CustomerUpdated(
            email=f"{customer}@sms.example",
            phone=phone,
            first_name="Ben",
            time_zone=zone,
            consent=shop.Consent(email=denied, sms=granted),
        )
        event = ev.CustomerUpdatedEvent(**self._envelope(customer), data=data)
        self._send(SHOP_EVENTS.name, event.key, dump_shop_event(event))

    def cart(self, customer: str) -> None:
        item = shop.LineItem(
            product_id="sku-1", title="Coffee beans", price=Money(amount="12.50", currency="EUR")
        )
        data = shop.CartUpdated(
            cart_id=f"cart-{customer}",
            items=[item],
            value=Money(amount="12.50", currency="EUR"),
            recovery_url=f"https://{self.shop_id}.example/cart/{customer}",
        )
        event = ev.CartUpdatedEvent(**self._envelope(customer), data=data)
        self._send(SHOP_EVENTS.name, event.key, dump_shop_event(event))

    def trigger(self, customer: str, campaign: str) -> str:
        """A marketing SMS step fired for the customer, as the triggers service fires one."""
        journey = f"j-{uuid.uuid4().hex[:8]}"
        the_id = trigger_id(self.shop_id, customer, campaign, journey, "reminder")
        envelope = {**self._envelope(customer), "id": the_id, "type": "trigger.fired"}
        envelope["time"] = envelope["time"].isoformat()
        envelope["specversion"] = "1.0"
        envelope["data"] = {
            "campaign_id": campaign,
            "journey_id": journey,
            "step_id": "reminder",
            "step_index": 0,
            "transactional": False,
            "channels": ["sms"],
            "template_id": "cart/reminder-2",
            "due_at": self.clock.now().isoformat(),
            "context": {
                "cart": {
                    "items": [{"product_id": "p1", "title": "Coffee beans", "quantity": 2}],
                    "recovery_url": f"https://{self.shop_id}.example/cart/1",
                }
            },
        }
        self._send(TRIGGERS_FIRED.name, f"{self.shop_id}:{customer}", orjson.dumps(envelope))
        return the_id


@pytest.fixture
def customers(stack: Stack, shop_id: str, clock: ScaledClock) -> Iterator[Customers]:
    found = Customers(stack.kafka_bootstrap, shop_id, clock)
    yield found
    found.close()


def zone_at(now: datetime, earliest: float, latest: float) -> str:
    """A fixed-offset zone whose local time of day at `now` is within [earliest, latest)
    hours (the window is at least an hour wide, so one always is)."""
    for offset in range(-12, 15):
        local = now + timedelta(hours=offset)
        hours = local.hour + local.minute / 60
        if earliest <= hours < latest:
            return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"
    raise AssertionError("no zone: widen the window")


def new_phone() -> str:
    """A Dutch mobile number (06-1x: a range in service, so a valid number)."""
    return f"+3161{uuid.uuid4().int % 10**7:07d}"


def known_to_feedback(stack: Stack, phone: str) -> list[ContactRef]:
    async def look() -> list[ContactRef]:
        engine = create_async_engine(stack.database_url)
        try:
            return [c.ref for c in await PostgresDirectory(engine).contacts_by_phone(phone)]
        finally:
            await engine.dispose()

    return asyncio.run(look())


def text_in(base: str, sender: str, body: str) -> str | None:
    """What Twilio posts when `sender` texts `body` to the shared number; the TwiML's text."""
    url = f"{base}/sms/inbound"
    params = twilio.inbound(sender, body, to=SHARED_NUMBER)
    form, headers = twilio.signed(url, params, token=DEFAULT_AUTH_TOKEN)
    answer = httpx.post(url, content=form, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text
    root = ElementTree.fromstring(answer.content)
    assert root.tag == "Response"
    return root[0].text if len(root) else None


def statuses_of(window: TopicWindow, shop_id: str, trigger: str) -> list[Record]:
    return [r for r in window.for_shop(shop_id) if r.value["data"].get("trigger_id") == trigger]


def status(window: TopicWindow, shop_id: str, trigger: str, kind: str, timeout: float) -> Record:
    def found() -> Record | None:
        for record in statuses_of(window, shop_id, trigger):
            if record.value["type"] == kind:
                return record
        return None

    try:
        result: Record = wait_until(found, timeout, f"{kind} for {trigger}")
    except AssertionError as exc:
        seen = [r.value["type"] for r in statuses_of(window, shop_id, trigger)]
        raise AssertionError(f"{exc}; seen {seen}") from None
    return result


def test_stop_skips_the_held_sms_with_opted_out_and_ends_the_marketing_journeys(
    stack: Stack,
    feedback_url: str,
    dispatch: DispatchProcess,
    triggers_worker: TriggersProcess,
    sinks: Sinks,
    customers: Customers,
    windows: dict[str, TopicWindow],
    shop_id: str,
    clock: ScaledClock,
) -> None:
    phone = new_phone()
    zone = zone_at(clock.now(), 2.25, 4.25)  # night: the reminder waits for 08:00, < 6h away
    customers.sms_only("ben", phone, zone)
    wait_until(lambda: known_to_feedback(stack, phone), 20, "feedback to learn the phone")
    customers.cart("ben")

    fired = wait_until(
        lambda: [
            r
            for r in windows[TRIGGERS_FIRED.name].for_shop(shop_id)
            if r.key == f"{shop_id}:ben" and r.value["type"] == "trigger.fired"
        ],
        30,
        "the cart reminder to fire",
    )
    reminder = fired[0].value["id"]
    deferred = status(windows[MESSAGES_STATUS.name], shop_id, reminder, "message.deferred", 30)
    assert deferred.value["data"]["reason"] == "quiet_hours"

    answer = text_in(feedback_url, phone, "  Stop ")
    assert answer is not None
    assert answer.startswith("SMS Test Shop:") and "Reply START to resubscribe" in answer

    withdrawn = wait_until(
        lambda: [
            r
            for r in windows[FEEDBACK_EVENTS.name].for_shop(shop_id)
            if r.value["type"] == "consent.withdrawn"
        ],
        20,
        "the withdrawal on feedback.events.v1",
    )
    assert [r.key for r in withdrawn] == [f"{shop_id}:ben"]
    assert withdrawn[0].value["data"]["source"] == "sms_keyword"

    exited = wait_until(
        lambda: [
            r
            for r in windows[TRIGGERS_FIRED.name].for_shop(shop_id)
            if r.value["type"] == "journey.exited"
            and r.value["data"]["campaign_id"] == "abandoned_cart"
        ],
        30,
        "the cart journey to end",
    )
    assert exited[0].value["data"]["reason"] == "opted_out"

    until = datetime.fromisoformat(deferred.value["data"]["until"].replace("Z", "+00:00"))
    wait_s = clock.seconds_until(until) + 30
    skipped = status(windows[MESSAGES_STATUS.name], shop_id, reminder, "message.skipped", wait_s)
    assert skipped.value["data"]["reason"].startswith("opted_out"), skipped.value
    assert not [m for m in sinks.texts()["messages"] if m["to"] == phone]


def test_help_gets_the_shops_help_text(
    stack: Stack, feedback_url: str, customers: Customers, clock: ScaledClock
) -> None:
    phone = new_phone()
    customers.sms_only("ada", phone, "UTC")
    wait_until(lambda: known_to_feedback(stack, phone), 20, "feedback to learn the phone")
    assert text_in(feedback_url, phone, "help") == (
        "SMS Test Shop: cart reminders and order news. Msg&data rates may apply. "
        "Reply STOP to stop."
    )


def test_a_permanent_delivery_failure_marks_the_number_unusable(
    stack: Stack,
    feedback_url: str,
    dispatch: DispatchProcess,
    sinks: Sinks,
    customers: Customers,
    windows: dict[str, TopicWindow],
    shop_id: str,
    clock: ScaledClock,
) -> None:
    phone = new_phone()
    sinks.control_sms(delivery_failures={phone: "30005"}, callback_delay_ms=100)
    customers.sms_only("cy", phone, zone_at(clock.now(), 8.25, 10.25))  # morning: sent at once
    first = customers.trigger("cy", "browse_abandonment")
    sent = status(windows[MESSAGES_STATUS.name], shop_id, first, "message.sent", 30)
    provider_id = sent.value["data"]["provider_id"]

    def undelivered() -> Record | None:
        for record in windows[MESSAGES_STATUS.name].for_shop(shop_id):
            if record.value["type"] == "message.undelivered":
                return record
        return None

    record: Record = wait_until(undelivered, 30, "message.undelivered from feedback")
    assert record.value["data"]["provider_id"] == provider_id
    assert record.value["data"]["error_code"] == "30005" and record.value["data"]["permanent"]
    failed = [
        r
        for r in windows[FEEDBACK_EVENTS.name].for_shop(shop_id)
        if r.value["type"] == "sms.delivery_failed"
    ]
    assert [(r.key, r.value["data"]["permanent"]) for r in failed] == [(f"{shop_id}:cy", True)]
    callbacks = [c for c in sinks.texts()["callbacks"] if c["sid"] == provider_id]
    assert [(c["status"], c.get("answer")) for c in callbacks] == [
        ("sent", 204),
        ("undelivered", 204),
    ]

    time.sleep(1)  # dispatch's intake takes the failure in
    second = customers.trigger("cy", "win_back")
    skipped = status(windows[MESSAGES_STATUS.name], shop_id, second, "message.skipped", 30)
    assert skipped.value["data"]["reason"].startswith("suppressed"), skipped.value
    assert "30005" in skipped.value["data"]["reason"]
    assert len([m for m in sinks.texts()["messages"] if m["to"] == phone]) == 1
    sinks.control_sms(delivery_failures={})
