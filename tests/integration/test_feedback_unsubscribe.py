"""Unsubscribing end to end, on the real broker and database: real dispatch sends a marketing
email to the SMTP sink, its List-Unsubscribe URL goes to the real feedback process (POSTed as
a mailbox provider does, or opened in a real headless Chromium), the choice lands on
`feedback.events.v1`, and dispatch honours it for the next message.

The browser is Debian's `chromium` (`make test` installs it) driven by Playwright's client; a
browser that cannot start fails the test, it never skips. Screenshots of the pages are saved
under `.local/test-output/`.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from kafka import KafkaProducer
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from shared.events import trigger_id
from shared.topics import FEEDBACK_EVENTS, MESSAGES_STATUS, SHOP_EVENTS, TRIGGERS_FIRED
from tests.support.dispatch_process import DispatchProcess, Sinks, daytime_zone, wait_until
from tests.support.feedback_process import running_feedback
from tests.support.kafka_records import Record, TopicWindow
from tests.support.shops import unique_shop_id
from tests.support.stack import ROOT, Stack

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = ROOT / ".local" / "test-output"


@pytest.fixture(scope="module")
def sinks(logs_dir: Path) -> Iterator[Sinks]:
    found = Sinks(logs_dir)
    found.start()
    yield found
    found.stop()


@pytest.fixture(scope="module")
def feedback_url(stack: Stack, logs_dir: Path) -> Iterator[str]:
    with running_feedback(
        stack.kafka_bootstrap, stack.database_url, logs_dir / "feedback-unsubscribe.log"
    ) as base:
        yield base


@pytest.fixture(scope="module")
def dispatch(
    stack: Stack, sinks: Sinks, feedback_url: str, logs_dir: Path
) -> Iterator[DispatchProcess]:
    """Dispatch signing its links for the feedback process above (its public URL)."""
    process = DispatchProcess(
        stack.kafka_bootstrap,
        stack.database_url,
        sinks,
        logs_dir / "dispatch-unsubscribe.log",
        public_url=feedback_url,
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
def windows(stack: Stack) -> Iterator[tuple[TopicWindow, TopicWindow]]:
    statuses = TopicWindow(stack.kafka_bootstrap, MESSAGES_STATUS.name)
    feedback = TopicWindow(stack.kafka_bootstrap, FEEDBACK_EVENTS.name)
    yield statuses, feedback
    statuses.close()
    feedback.close()


class Shop:
    """One test shop: a customer's shop event and triggers, produced as ingest and the
    triggers service would."""

    def __init__(self, stack: Stack) -> None:
        self.id = unique_shop_id("unsub")
        self.database_url = stack.database_url
        self.producer = KafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")

    def close(self) -> None:
        self.producer.close()

    def customer(self, customer: str, *, email: bool, sms: bool) -> str:
        """A customer with both addresses and the given marketing consent; their address."""
        now = datetime.now(UTC).isoformat()

        def given(granted: bool) -> dict[str, str]:
            status = "granted" if granted else "denied"
            return {"status": status, "source": "signup_form", "recorded_at": now}

        address = f"{customer}@{self.id}.example.com"
        data = {
            "email": address,
            "phone": f"+141555501{uuid.uuid4().int % 100:02d}",
            "first_name": "Ada",
            "time_zone": daytime_zone(),  # marketing SMS goes out at once, not after 08:00
            "consent": {"email": given(email), "sms": given(sms)},
        }
        self._send(SHOP_EVENTS.name, customer, "customer.created", data, str(uuid.uuid4()))
        return address

    def trigger(
        self, customer: str, *, channels: tuple[str, ...] = ("email",), transactional: bool = False
    ) -> str:
        campaign, step, template = (
            ("order_confirmation", "confirmation", "order/confirmation")
            if transactional
            else ("abandoned_cart", "reminder-2", "cart/reminder-2")  # email and SMS
        )
        journey = f"j-{uuid.uuid4().hex[:8]}"
        the_id = trigger_id(self.id, customer, campaign, journey, step)
        items = [{"product_id": "p1", "title": "Coffee beans", "quantity": 2}]
        data = {
            "campaign_id": campaign,
            "journey_id": journey,
            "step_id": step,
            "step_index": 0,
            "transactional": transactional,
            "channels": list(channels),
            "template_id": template,
            "due_at": datetime.now(UTC).isoformat(),
            "context": {
                "cart": {"items": items, "recovery_url": f"https://{self.id}.example/cart/1"},
                "order": {
                    "order_id": "o-1",
                    "items": items,
                    "total": {"amount": "25.00", "currency": "EUR"},
                },
            },
        }
        self._send(TRIGGERS_FIRED.name, customer, "trigger.fired", data, the_id)
        return the_id

    def _send(
        self, topic: str, customer: str, kind: str, data: dict[str, Any], event_id: str
    ) -> None:
        record = {
            "specversion": "1.0",
            "id": event_id,
            "source": f"/shops/{self.id}/test",
            "type": kind,
            "time": datetime.now(UTC).isoformat(),
            "shopid": self.id,
            "customerid": customer,
            "data": data,
        }
        key = f"{self.id}:{customer}".encode()
        self.producer.send(topic, key=key, value=orjson.dumps(record))
        self.producer.flush()

    def dispatch_consent(self, customer: str) -> tuple[bool | None, bool | None]:
        """(email, sms) marketing consent in dispatch's contact store."""

        async def read() -> tuple[bool | None, bool | None]:
            engine = create_async_engine(self.database_url, poolclass=NullPool)
            try:
                async with engine.connect() as conn:
                    row = (
                        await conn.execute(
                            text(
                                "SELECT email_consent, sms_consent FROM contacts"
                                " WHERE shop_id = :shop AND customer_id = :customer"
                            ),
                            {"shop": self.id, "customer": customer},
                        )
                    ).first()
            finally:
                await engine.dispose()
            return (row[0], row[1]) if row is not None else (None, None)

        # In a thread of its own: Playwright's sync API keeps an event loop in this one.
        with ThreadPoolExecutor(1) as thread:
            return thread.submit(asyncio.run, read()).result()


@pytest.fixture
def shop(stack: Stack) -> Iterator[Shop]:
    found = Shop(stack)
    yield found
    found.close()


def final_status(statuses: TopicWindow, shop: Shop, trigger: str) -> dict[str, Any]:
    """The status that decides the trigger's fate (not queued, not waiting for the contact)."""

    def found() -> dict[str, Any] | None:
        for record in statuses.for_shop(shop.id):
            data: dict[str, Any] = record.value["data"]
            if data["trigger_id"] != trigger or data["status"] == "queued":
                continue
            if data["status"] == "deferred" and data.get("reason") == "contact_unknown":
                continue
            return data
        return None

    result: dict[str, Any] = wait_until(found, 30, f"a status for trigger {trigger}")
    return result


def reason(status: dict[str, Any]) -> str:
    """The skip reason's code (`opted_out: email: marketing consent withdrawn`)."""
    return str(status.get("reason") or "").split(":", 1)[0]


def emails_to(sinks: Sinks, address: str) -> list[dict[str, Any]]:
    return [m for m in sinks.emails(brief=False)["messages"] if address in m["rcpt_tos"]]


def header(message: dict[str, Any], name: str) -> str:
    values = [str(v) for k, v in message["headers"] if k.lower() == name.lower()]
    assert len(values) == 1, (name, message["headers"])
    return values[0]


def one_click_url(message: dict[str, Any]) -> str:
    """The https (here: loopback http) URL of the email's List-Unsubscribe header, which
    must offer one-click (RFC 8058) and nothing else."""
    targets = re.findall(r"<([^>]+)>", header(message, "List-Unsubscribe"))
    assert len(targets) == 1 and targets[0].startswith("http"), targets
    assert header(message, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    return "".join(targets[0].split())


def feedback_event(window: TopicWindow, shop: Shop, kind: str) -> Record:
    def found() -> Record | None:
        return next((r for r in window.for_shop(shop.id) if r.value["type"] == kind), None)

    result: Record = wait_until(found, 30, f"{kind} on {FEEDBACK_EVENTS.name}")
    return result


def test_one_click_from_a_received_email_stops_the_next_marketing_email(
    dispatch: DispatchProcess,
    sinks: Sinks,
    shop: Shop,
    windows: tuple[TopicWindow, TopicWindow],
) -> None:
    statuses, feedback = windows
    address = shop.customer("ada", email=True, sms=False)
    first = shop.trigger("ada")
    assert final_status(statuses, shop, first)["status"] == "sent"
    (email,) = wait_until(lambda: emails_to(sinks, address), 20, "the marketing email")
    url = one_click_url(email)

    # As Gmail does: a bare POST, no cookies, no redirects followed, the RFC's body.
    with httpx.Client(follow_redirects=False, timeout=10) as mailbox_provider:
        answer = mailbox_provider.post(
            url,
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "unsubscribed", "channel": "email"}
    event = feedback_event(feedback, shop, "consent.withdrawn")
    assert event.key == f"{shop.id}:ada"
    assert event.value["data"] == {"channel": "email", "source": "one_click"}

    wait_until(lambda: shop.dispatch_consent("ada")[0] is False, 30, "dispatch to learn it")
    second = shop.trigger("ada")
    skipped = final_status(statuses, shop, second)
    assert (skipped["status"], reason(skipped)) == ("skipped", "opted_out"), skipped
    order = shop.trigger("ada", transactional=True)
    assert final_status(statuses, shop, order)["status"] == "sent"
    arrived = wait_until(lambda: len(emails_to(sinks, address)) == 2, 20, "the order email")
    assert arrived
    latest = emails_to(sinks, address)[-1]
    assert "List-Unsubscribe" not in [k for k, _ in latest["headers"]]  # transactional


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; not starting is a failure (make test installs it)."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make test` installs it"
    with sync_playwright() as playwright:
        found = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield found
        found.close()


def test_the_preference_page_in_a_real_browser(
    dispatch: DispatchProcess,
    sinks: Sinks,
    shop: Shop,
    windows: tuple[TopicWindow, TopicWindow],
    browser: Browser,
) -> None:
    statuses, feedback = windows
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    address = shop.customer("ben", email=True, sms=False)
    first = shop.trigger("ben")
    assert final_status(statuses, shop, first)["status"] == "sent"
    (email,) = wait_until(lambda: emails_to(sinks, address), 20, "the marketing email")
    url = one_click_url(email)

    page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
    opened = page.goto(url)
    assert opened is not None and opened.status == 200
    page.screenshot(path=str(SCREENSHOTS / "preferences-1-opened.png"), full_page=True)
    email_box = page.get_by_label("Marketing emails")  # labelled: a screen reader reads it
    sms_box = page.get_by_label("Marketing text messages (SMS)")
    assert email_box.is_checked() and not sms_box.is_checked()
    assert feedback.for_shop(shop.id) == []  # opening the page changed nothing

    email_box.uncheck()
    page.get_by_role("button", name="Save my choices").click()
    page.get_by_text("Your choices are saved").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "preferences-2-saved.png"), full_page=True)
    event = feedback_event(feedback, shop, "consent.withdrawn")
    assert event.value["data"] == {"channel": "email", "source": "preference_center"}
    wait_until(lambda: shop.dispatch_consent("ben")[0] is False, 30, "dispatch to learn it")
    skipped = final_status(statuses, shop, shop.trigger("ben"))
    assert (skipped["status"], reason(skipped)) == ("skipped", "opted_out"), skipped

    # Changed their mind: back to the page from the confirmation, texts instead of emails.
    page.get_by_role("link", name="Change your choices").click()
    page.get_by_label("Marketing text messages (SMS)").check()
    page.get_by_role("button", name="Save my choices").click()
    page.get_by_text("Your choices are saved").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "preferences-3-sms.png"), full_page=True)
    granted = feedback_event(feedback, shop, "consent.granted")
    assert granted.value["data"] == {"channel": "sms", "source": "preference_center"}
    wait_until(lambda: shop.dispatch_consent("ben") == (False, True), 30, "dispatch to learn it")
    by_sms = final_status(statuses, shop, shop.trigger("ben"))  # email first, SMS allowed
    assert (by_sms["status"], by_sms["channel"]) == ("sent", "sms"), by_sms.get("reason")
    page.close()
