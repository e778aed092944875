"""Opens and clicks end to end, on the real broker and database: dispatch sends a tracked email
to the SMTP sink, the test fetches its pixel or follows its links through the feedback service
as a mail client or a scanner would, and dispatch's "no response" fallback acts on what that
recorded: the next step of the journey goes to SMS when the email was not opened, stays on
email after a person's open, and goes to SMS after a machine's (Apple's proxy) open.

Dispatch and feedback share one scaled clock (an hour of campaign time in two seconds), so
that the fallback's shortest window (1 h) passes within the test.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from shared.events import trigger_id
from shared.topics import FEEDBACK_EVENTS, MESSAGES_STATUS, SHOP_EVENTS, TRIGGERS_FIRED
from shared.tracking_links import Tracked, verify_open
from tests.support.dispatch_process import (
    TEST_LINK_KEYS,
    DispatchProcess,
    MessageLog,
    Sinks,
    wait_until,
)
from tests.support.feedback_process import running_feedback
from tests.support.kafka_records import Record, TopicWindow
from tests.support.shops import unique_shop_id
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

SCALE = 1800.0
"""Campaign time per wall second: the fallback's window of one hour passes in 2 s."""
ORIGIN = time.time()
WINDOW_WALL_S = 3600 / SCALE
HUMAN = {
    "user-agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko)",
    "accept": "image/webp,image/png,image/*;q=0.8",
}
APPLE_PROXY = {"user-agent": "Mozilla/5.0"}
SHOP = unique_shop_id("tracking")


@pytest.fixture(scope="module")
def sinks(logs_dir: Path) -> Iterator[Sinks]:
    found = Sinks(logs_dir)
    found.start()
    yield found
    found.stop()


@pytest.fixture(scope="module")
def feedback(stack: Stack, logs_dir: Path) -> Iterator[str]:
    with running_feedback(
        stack.kafka_bootstrap,
        stack.database_url,
        logs_dir / "feedback-tracking.log",
        time_scale=str(SCALE),
        clock_origin=str(ORIGIN),
        machine_after_send_s="1",
    ) as base:
        yield base


@pytest.fixture(scope="module")
def dispatch(
    stack: Stack,
    sinks: Sinks,
    feedback: str,
    logs_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DispatchProcess]:
    shops = tmp_path_factory.mktemp("tracking-shops")
    # No quiet hours (the scaled clock crosses nights) and room for both steps under the cap.
    (shops / f"{SHOP}.yaml").write_text(
        'quiet_hours: {start: "00:00", end: "00:00"}\nfrequency_cap: {count: 10, hours: 1}\n'
    )
    process = DispatchProcess(
        stack.kafka_bootstrap,
        stack.database_url,
        sinks,
        logs_dir / "dispatch-tracking.log",
        public_url=feedback,
        shops_dir=str(shops),
        time_scale=str(SCALE),
        clock_origin=str(ORIGIN),
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
def statuses(stack: Stack) -> Iterator[TopicWindow]:
    window = TopicWindow(stack.kafka_bootstrap, MESSAGES_STATUS.name)
    yield window
    window.close()


@pytest.fixture
def feedback_events(stack: Stack) -> Iterator[TopicWindow]:
    window = TopicWindow(stack.kafka_bootstrap, FEEDBACK_EVENTS.name)
    yield window
    window.close()


@dataclass
class Sent:
    customer: str
    journey: str
    message_id: str
    sent_wall: float
    email: dict[str, Any]


class Journey:
    """One customer of the test shop and the abandoned-cart steps fired for them."""

    def __init__(self, stack: Stack, sinks: Sinks, statuses: TopicWindow) -> None:
        self.producer = KafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
        self.sinks = sinks
        self.statuses = statuses
        self.customer = f"c-{uuid.uuid4().hex[:8]}"
        self.journey = f"j-{uuid.uuid4().hex[:8]}"

    def close(self) -> None:
        self.producer.close()

    def _send(self, topic: str, kind: str, data: dict[str, Any], event_id: str) -> None:
        record = {
            "specversion": "1.0",
            "id": event_id,
            "source": f"/shops/{SHOP}/test",
            "type": kind,
            "time": datetime.now(UTC).isoformat(),
            "shopid": SHOP,
            "customerid": self.customer,
            "data": data,
        }
        key = f"{SHOP}:{self.customer}".encode()
        self.producer.send(topic, key=key, value=orjson.dumps(record))
        self.producer.flush()

    def _step(self, step: str, template: str, **extra: Any) -> str:
        the_id = trigger_id(SHOP, self.customer, "abandoned_cart", self.journey, step)
        data = {
            "campaign_id": "abandoned_cart",
            "journey_id": self.journey,
            "step_id": step,
            "step_index": 0 if step == "reminder-1" else 1,
            "transactional": False,
            "channels": ["email", "sms"],
            "template_id": template,
            "due_at": datetime.now(UTC).isoformat(),
            "context": {
                "cart": {
                    "items": [{"product_id": "p1", "title": "Coffee beans", "quantity": 2}],
                    "recovery_url": f"https://{SHOP}.example/cart/{self.customer}",
                }
            },
            **extra,
        }
        self._send(TRIGGERS_FIRED.name, "trigger.fired", data, the_id)
        return the_id

    def _sent(self, fired: str) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            for record in self.statuses.for_shop(SHOP):
                data = record.value["data"]
                if data["trigger_id"] == fired and record.value["type"] == "message.sent":
                    return dict(data)
            return None

        result: dict[str, Any] = wait_until(found, 60, f"message.sent for {fired}")
        return result

    def first_email(self) -> Sent:
        now = datetime.now(UTC).isoformat()
        granted = {"status": "granted", "source": "signup_form", "recorded_at": now}
        contact = {
            "email": f"{self.customer}@example.com",
            "phone": "+14155550123",
            "first_name": "Ada",
            "consent": {"email": granted, "sms": granted},
        }
        self._send(SHOP_EVENTS.name, "customer.created", contact, str(uuid.uuid4()))
        sent = self._sent(self._step("reminder-1", "cart/reminder-1"))
        assert sent["channel"] == "email", sent
        address = f"{self.customer}@example.com"

        def email() -> dict[str, Any] | None:
            found = [
                m for m in self.sinks.emails(brief=False)["messages"] if address in m["rcpt_tos"]
            ]
            return found[0] if found else None

        return Sent(
            self.customer,
            self.journey,
            sent["message_id"],
            time.time(),
            wait_until(email, 20, "the email"),
        )

    def next_step_channel(self) -> str:
        """Fire the journey's next step (email first, SMS for those who did not open the
        previous email within the hour) and return the channel it went out on."""
        fired = self._step(
            "reminder-2",
            "cart/reminder-2",
            fallback={"channel": "sms", "unless": "opened", "within_hours": 1},
        )
        return str(self._sent(fired)["channel"])


@pytest.fixture
def journey(
    stack: Stack, sinks: Sinks, statuses: TopicWindow, dispatch: DispatchProcess
) -> Iterator[Journey]:
    found = Journey(stack, sinks, statuses)
    yield found
    found.close()


def pixel_of(sent: Sent) -> str:
    """The pixel the email's HTML carries; it names this message."""
    pixels = [str(src) for src in sent.email["images"] if "/o/" in src]
    assert len(pixels) == 1, sent.email["images"]
    token = pixels[0].rsplit("/o/", 1)[1].removesuffix(".gif")
    assert verify_open(TEST_LINK_KEYS, token) == Tracked(SHOP, sent.customer, sent.message_id)
    return pixels[0]


def wait_for_window(sent: Sent) -> None:
    """Until the fallback's hour of campaign time has passed since the send (with margin)."""
    time.sleep(max(0.0, sent.sent_wall + WINDOW_WALL_S * 1.5 - time.time()))


def engagement(window: TopicWindow, kind: str, message_id: str) -> Record:
    def found() -> Record | None:
        for record in window.for_shop(SHOP):
            data = record.value["data"]
            if record.value["type"] == kind and data["message"]["message_id"] == message_id:
                return record
        return None

    result: Record = wait_until(found, 20, f"{kind} of {message_id}")
    return result


def opened_at(stack: Stack, message_id: str) -> Any:
    rows = MessageLog(stack.database_url)._fetch(
        "SELECT opened_at FROM messages WHERE message_id = :id", id=message_id
    )
    return rows[0][0] if rows else None


def dispatch_has_read(stack: Stack, group: str, record: Record) -> bool:
    """Whether dispatch's consumer group committed past everything up to `record`'s
    partition end as of now (so it has taken the record into account)."""
    tp = TopicPartition(FEEDBACK_EVENTS.name, record.partition)
    # Never subscribes: fetching the group's committed offset does not join the group.
    consumer = KafkaConsumer(
        bootstrap_servers=stack.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    try:
        end = consumer.end_offsets([tp])[tp]
        committed = consumer.committed(tp)
        return committed is not None and committed >= end
    finally:
        consumer.close()


def test_an_email_not_opened_leads_the_next_step_to_sms(journey: Journey) -> None:
    sent = journey.first_email()
    pixel_of(sent)  # it had a pixel; nobody fetched it
    wait_for_window(sent)
    assert journey.next_step_channel() == "sms"


def test_a_persons_open_keeps_the_next_step_on_email(
    journey: Journey, feedback_events: TopicWindow, stack: Stack
) -> None:
    sent = journey.first_email()
    time.sleep(1.2)  # past the seconds in which a gateway scans a delivered email
    answer = httpx.get(pixel_of(sent), headers=HUMAN, timeout=10)
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/gif"
    opened = engagement(feedback_events, "message.opened", sent.message_id)
    assert opened.value["data"]["machine"] is False, opened.value
    assert opened.value["data"]["message"]["campaign_id"] == "abandoned_cart"
    wait_until(lambda: opened_at(stack, sent.message_id), 20, "dispatch to record the open")
    wait_for_window(sent)
    assert journey.next_step_channel() == "email"


def test_a_machines_open_does_not_count(
    journey: Journey, feedback_events: TopicWindow, stack: Stack, dispatch: DispatchProcess
) -> None:
    sent = journey.first_email()
    time.sleep(1.2)
    assert httpx.get(pixel_of(sent), headers=APPLE_PROXY, timeout=10).status_code == 200
    opened = engagement(feedback_events, "message.opened", sent.message_id)
    data = opened.value["data"]
    assert (data["machine"], data["reason"]) == (True, "apple_privacy_proxy")
    group = dispatch.env["NUDGE_DISPATCH_GROUP_ID"]
    wait_until(lambda: dispatch_has_read(stack, group, opened), 20, "dispatch to read the open")
    assert opened_at(stack, sent.message_id) is None
    wait_for_window(sent)
    assert journey.next_step_channel() == "sms"


def test_a_tracked_link_of_the_email_leads_to_the_shop_and_is_recorded(
    journey: Journey, feedback: str, feedback_events: TopicWindow
) -> None:
    sent = journey.first_email()
    tracked = [link for link in sent.email["links"] if link.startswith(f"{feedback}/c/")]
    assert tracked, sent.email["links"]
    time.sleep(1.2)
    answer = httpx.get(tracked[0], headers=HUMAN, timeout=10)
    assert answer.status_code == 302
    assert answer.headers["location"].startswith(f"https://{SHOP}.example")
    clicked = engagement(feedback_events, "message.clicked", sent.message_id)
    data = clicked.value["data"]
    assert (data["machine"], data["channel"], data["url"]) == (
        False,
        "email",
        answer.headers["location"],
    )
    assert not [link for link in sent.email["links"] if link.startswith(f"https://{SHOP}.example")]
