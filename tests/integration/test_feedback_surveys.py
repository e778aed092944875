"""Surveys end to end, on the real broker and database: the real triggers worker fires the
review request when the parcel arrives, real dispatch sends it (email to the SMTP sink, or SMS
to the SMS sink) with its signed survey link, the customer answers, and the real feedback
process puts `survey.answered` on `feedback.events.v1`, which ends the review request.

- By email, in a real headless browser (Debian's `chromium`, driven by Playwright's client, as
  the unsubscribe test does; a browser that cannot start fails the test): the link the email
  carries is opened (through the click redirect when dispatch tracks it), a detractor's score
  is chosen with the keyboard, a comment typed, the thank-you page seen; then the answer is
  changed, and the later one is the one that counts. Screenshots under `.local/test-output/`.
- By SMS: a bare number texted back (signed as Twilio signs) to the review request.

The shop's campaign file gives its review request a reminder three days later, so that an
answer has a step left to end (`journey.exited` with `survey_answered`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
from kafka import KafkaProducer
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from deploy.local.sinks.sms_sink import DEFAULT_AUTH_TOKEN
from services.feedback.directory.postgres import PostgresDirectory
from services.feedback.surveys.scores import Scored, latest_per_invitation
from shared import tracking_links
from shared.events.feedback import SurveyKind
from shared.topics import FEEDBACK_EVENTS, MESSAGES_STATUS, SHOP_EVENTS, TRIGGERS_FIRED
from tests.support import twilio
from tests.support.dispatch_process import (
    TEST_LINK_KEYS,
    DispatchProcess,
    Sinks,
    daytime_zone,
    wait_until,
)
from tests.support.faust_process import TriggersProcess
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
REVIEW = "review_request"
CAMPAIGNS = """extends: default
campaigns:
  review_request:          # the default request, and a reminder for an answer to end
    steps:
      - {id: survey, delay: 0, channels: [email, sms], template: review/request, survey: csat}
      - {id: reminder, delay: 3d, channels: [email], template: review/request, survey: csat}
"""


@pytest.fixture(scope="module")
def shop_id() -> str:
    return unique_shop_id("survey")


@pytest.fixture(scope="module")
def origin() -> float:
    """The clock every process shares (not scaled: nothing here waits for a timer)."""
    return time.time()


@pytest.fixture(scope="module")
def feedback_url(stack: Stack, logs_dir: Path, origin: float) -> Iterator[str]:
    with running_feedback(
        stack.kafka_bootstrap,
        stack.database_url,
        logs_dir / "feedback-surveys.log",
        own_url=True,
        twilio_auth_token=DEFAULT_AUTH_TOKEN,
        time_scale="1",
        clock_origin=str(origin),
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
    stack: Stack, sinks: Sinks, feedback_url: str, logs_dir: Path, origin: float
) -> Iterator[DispatchProcess]:
    """Dispatch signing its links (survey, click, unsubscribe) for the feedback process."""
    process = DispatchProcess(
        stack.kafka_bootstrap,
        stack.database_url,
        sinks,
        logs_dir / "dispatch-surveys.log",
        public_url=feedback_url,
        time_scale="1",
        clock_origin=str(origin),
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def triggers_worker(
    stack: Stack,
    logs_dir: Path,
    origin: float,
    shop_id: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[TriggersProcess]:
    campaigns = tmp_path_factory.mktemp("survey-campaigns")
    (campaigns / f"{shop_id}.yaml").write_text(CAMPAIGNS)
    process = TriggersProcess(
        stack.kafka_bootstrap,
        tmp_path_factory.mktemp("survey-triggers-data"),
        logs_dir / "triggers-surveys.log",
        app_id=f"test-triggers-surveys-{int(time.time())}",
        time_scale=1.0,
        clock_origin=origin,
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
    """The test shop's customers, orders and deliveries, produced as ingest would."""

    def __init__(self, bootstrap: str, shop_id: str) -> None:
        self.shop_id = shop_id
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")

    def close(self) -> None:
        self.producer.close()

    def _send(self, customer: str, kind: str, data: dict[str, Any]) -> None:
        record = {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": f"/shops/{self.shop_id}/test",
            "type": kind,
            "time": datetime.now(UTC).isoformat(),
            "shopid": self.shop_id,
            "customerid": customer,
            "data": data,
        }
        key = f"{self.shop_id}:{customer}".encode()
        self.producer.send(SHOP_EVENTS.name, key=key, value=orjson.dumps(record))
        self.producer.flush()

    def known(self, customer: str, *, email: bool, sms: bool) -> tuple[str, str]:
        """A customer (an update: no welcome series) with the given marketing consent; their
        email address and phone."""
        now = datetime.now(UTC).isoformat()

        def given(granted: bool) -> dict[str, str]:
            status = "granted" if granted else "denied"
            return {"status": status, "source": "signup_form", "recorded_at": now}

        address = f"{customer}@{self.shop_id}.example.com"
        phone = f"+3161{uuid.uuid4().int % 10**7:07d}"
        data = {
            "email": address,
            "phone": phone,
            "first_name": customer.title(),
            "locale": "en-GB",
            "time_zone": daytime_zone(),  # marketing goes out at once, not after quiet hours
            "consent": {"email": given(email), "sms": given(sms)},
        }
        self._send(customer, "customer.updated", data)
        return address, phone

    def delivered_order(self, customer: str) -> str:
        """An order placed and its parcel delivered; the order id."""
        order = f"o-{uuid.uuid4().hex[:8]}"
        item = {
            "product_id": "beans-1",
            "title": "Coffee beans",
            "quantity": 1,
            "price": {"amount": "14.50", "currency": "EUR"},
        }
        total = {"amount": "14.50", "currency": "EUR"}
        self._send(customer, "order.placed", {"order_id": order, "items": [item], "total": total})
        self._send(customer, "shipment.delivered", {"order_id": order, "shipment_id": f"s-{order}"})
        return order


@pytest.fixture
def customers(stack: Stack, shop_id: str) -> Iterator[Customers]:
    found = Customers(stack.kafka_bootstrap, shop_id)
    yield found
    found.close()


def review_fired(windows: dict[str, TopicWindow], shop_id: str, customer: str) -> Record:
    def found() -> Record | None:
        for record in windows[TRIGGERS_FIRED.name].for_shop(shop_id):
            value = record.value
            if (
                record.key == f"{shop_id}:{customer}"
                and value["type"] == "trigger.fired"
                and value["data"]["campaign_id"] == REVIEW
            ):
                return record
        return None

    result: Record = wait_until(found, 60, f"the review request for {customer} to fire")
    return result


def sent_message(windows: dict[str, TopicWindow], shop_id: str, trigger: str) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        for record in windows[MESSAGES_STATUS.name].for_shop(shop_id):
            data: dict[str, Any] = record.value["data"]
            if data.get("trigger_id") == trigger and record.value["type"] == "message.sent":
                return data
        return None

    result: dict[str, Any] = wait_until(found, 60, f"dispatch to send {trigger}")
    return result


def survey_answers(windows: dict[str, TopicWindow], shop_id: str, count: int) -> list[Record]:
    def found() -> list[Record] | None:
        answers = [
            r
            for r in windows[FEEDBACK_EVENTS.name].for_shop(shop_id)
            if r.value["type"] == "survey.answered"
        ]
        return answers if len(answers) >= count else None

    result: list[Record] = wait_until(found, 30, f"{count} survey answer(s)")
    return result


def review_exited(windows: dict[str, TopicWindow], shop_id: str, customer: str) -> str:
    def found() -> str | None:
        for record in windows[TRIGGERS_FIRED.name].for_shop(shop_id):
            value = record.value
            if (
                record.key == f"{shop_id}:{customer}"
                and value["type"] == "journey.exited"
                and value["data"]["campaign_id"] == REVIEW
            ):
                return str(value["data"]["reason"])
        return None

    result: str = wait_until(found, 30, "the review request to end")
    return result


def survey_link(email: dict[str, Any], feedback_url: str) -> str:
    """The survey link the email carries, as the reader clicks it: the click redirect when
    dispatch tracks it (whose signed target must be the survey), else the survey itself."""
    for link in email["links"]:
        path = urlsplit(link).path
        if not link.startswith(feedback_url):
            continue
        if path.startswith("/s/"):
            return str(link)
        if path.startswith("/c/"):
            click = tracking_links.verify_click(TEST_LINK_KEYS, path.removeprefix("/c/"))
            if click is not None and click.url.startswith(f"{feedback_url}/s/"):
                return str(link)
    raise AssertionError(f"no survey link in the review request: {email['links']}")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; not starting is a failure (make test installs it)."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make test` installs it"
    with sync_playwright() as playwright:
        found = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield found
        found.close()


def test_a_detractor_answers_in_a_real_browser_and_the_review_request_ends(
    feedback_url: str,
    dispatch: DispatchProcess,
    triggers_worker: TriggersProcess,
    sinks: Sinks,
    customers: Customers,
    windows: dict[str, TopicWindow],
    shop_id: str,
    browser: Browser,
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    address, _ = customers.known("ada", email=True, sms=False)
    order = customers.delivered_order("ada")
    trigger = review_fired(windows, shop_id, "ada").value["id"]
    message = sent_message(windows, shop_id, trigger)
    assert message["channel"] == "email"

    def review_email() -> dict[str, Any] | None:
        for email in sinks.emails(brief=False)["messages"]:
            if address in email["rcpt_tos"] and email["subject"] == "How did we do?":
                return dict(email)
        return None

    email: dict[str, Any] = wait_until(review_email, 30, "the review request email")
    link = survey_link(email, feedback_url)

    page = browser.new_page(viewport={"width": 360, "height": 740})  # a small phone
    opened = page.goto(link)
    assert opened is not None and opened.status == 200
    assert urlsplit(page.url).path.startswith("/s/")
    page.screenshot(path=str(SCREENSHOTS / "survey-1-opened.png"), full_page=True)
    fits = page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert fits, "the survey scrolls sideways on a phone"
    assert page.locator("html").get_attribute("lang") == "en"
    assert not [
        r
        for r in windows[FEEDBACK_EVENTS.name].for_shop(shop_id)
        if r.value["type"] == "survey.answered"
    ]  # opening the page records no answer (the click redirect records its click)

    # With the keyboard: onto the scale, then down to 1 (arrow keys move within a radio group).
    page.get_by_role("radio", name="3 Neither satisfied nor dissatisfied").focus()
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowUp")
    assert page.get_by_role("radio", name="1 Very dissatisfied").is_checked()
    page.get_by_label("Anything you would like to tell").fill("The box arrived crushed.")
    page.screenshot(path=str(SCREENSHOTS / "survey-2-answered.png"), full_page=True)
    page.get_by_role("button", name="Send my answer").click()
    page.get_by_text("Your answer is recorded").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "survey-3-thanks.png"), full_page=True)

    (answer,) = survey_answers(windows, shop_id, 1)
    assert answer.key == f"{shop_id}:ada"
    data = answer.value["data"]
    assert (data["survey"], data["score"], data["order_id"]) == ("csat", 1, order)
    assert data["comment"] == "The box arrived crushed."
    assert "packaging" in data["tags"]  # tagged in the customer's language (en-GB)
    assert data["message"]["message_id"] == message["message_id"]
    assert review_exited(windows, shop_id, "ada") == "survey_answered"

    # A change of mind: the same link again, another score; the later answer counts.
    page.get_by_role("link", name="Answer again").click()
    page.get_by_role("radio", name="4 Satisfied").check()
    page.get_by_role("button", name="Send my answer").click()
    page.get_by_text("Your answer is recorded").wait_for()
    page.screenshot(path=str(SCREENSHOTS / "survey-4-changed.png"), full_page=True)
    first, second = survey_answers(windows, shop_id, 2)
    assert first.value["id"] != second.value["id"]
    scored = [
        Scored(
            r.value["data"]["message"]["message_id"],
            SurveyKind(r.value["data"]["survey"]),
            r.value["data"]["score"],
            datetime.fromisoformat(r.value["time"]),
            r.value["id"],
        )
        for r in (first, second)
    ]
    (counted,) = latest_per_invitation(scored)
    assert counted.score == 4
    page.close()


def texted_back(feedback_url: str, phone: str, body: str) -> None:
    url = f"{feedback_url}/sms/inbound"
    form, headers = twilio.signed(url, twilio.inbound(phone, body), token=DEFAULT_AUTH_TOKEN)
    answer = httpx.post(url, content=form, headers=headers, timeout=10)
    assert answer.status_code == 200, answer.text


def asked_by_sms(stack: Stack, phone: str) -> bool:
    """Whether the feedback index knows the last SMS to `phone` asked for a survey."""

    async def look() -> bool:
        engine = create_async_engine(stack.database_url, poolclass=NullPool)
        try:
            found = await PostgresDirectory(engine).texted(phone)
        finally:
            await engine.dispose()
        return any(sms is not None and sms.survey is SurveyKind.CSAT for _, sms in found)

    with ThreadPoolExecutor(1) as thread:  # Playwright's sync API keeps a loop in this one
        return thread.submit(asyncio.run, look()).result()


def test_a_bare_number_texted_back_answers_the_review_request(
    stack: Stack,
    feedback_url: str,
    dispatch: DispatchProcess,
    triggers_worker: TriggersProcess,
    sinks: Sinks,
    customers: Customers,
    windows: dict[str, TopicWindow],
    shop_id: str,
) -> None:
    _, phone = customers.known("ben", email=False, sms=True)
    order = customers.delivered_order("ben")
    trigger = review_fired(windows, shop_id, "ben").value["id"]
    message = sent_message(windows, shop_id, trigger)
    assert message["channel"] == "sms"
    wait_until(lambda: asked_by_sms(stack, phone), 30, "the index to learn the survey SMS")

    texted_back(feedback_url, phone, " 2 ")
    (answer,) = survey_answers(windows, shop_id, 1)
    assert answer.key == f"{shop_id}:ben"
    data = answer.value["data"]
    assert (data["survey"], data["score"], data["order_id"]) == ("csat", 2, order)
    assert data["message"]["message_id"] == message["message_id"]
    assert review_exited(windows, shop_id, "ben") == "survey_answered"

    texted_back(feedback_url, phone, "2 out of 5, late again")  # words: a reply, not a score
    replies = wait_until(
        lambda: [
            r
            for r in windows[FEEDBACK_EVENTS.name].for_shop(shop_id)
            if r.value["type"] == "reply.received"
        ],
        30,
        "the reply",
    )
    assert replies[0].value["data"]["text"] == "2 out of 5, late again"
