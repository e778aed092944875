"""Reports on the real broker and database: the PostgreSQL report store against the one
contract suite; records on `messages.status.v1`, `feedback.events.v1` and `conversions.v1`
becoming the figures of the JSON report of the feedback service as it runs, for the shop's
API key only (two shops, a rotated key); and the report page, from the link `nudge reports url`
prints, in a real headless Chromium with its chart. Screenshots under `.local/test-output/`."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from kafka import KafkaProducer
from playwright.sync_api import Browser, sync_playwright
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.feedback.reports.postgres import PostgresReportStore
from services.feedback.reports.store import ReportStore
from shared.credentials import SecretBox
from shared.db.engine import make_engine
from shared.settings import DatabaseSettings
from shared.tenancy import ShopRegistry
from shared.topics import CONVERSIONS, FEEDBACK_EVENTS, MESSAGES_STATUS, dead_letter_topic
from tests.support import report_records as r
from tests.support.feedback_process import running_feedback
from tests.support.ingest_process import ROOT, service_env
from tests.support.kafka_records import TopicWindow
from tests.support.report_store_contract import ReportStoreContract
from tests.support.shops import TEST_KEYS, add_shop, unique_shop_id
from tests.support.stack import Stack

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
T = TypeVar("T")


class TestPostgresReportStore(ReportStoreContract):
    @pytest.fixture(autouse=True)
    async def _engine(self, stack: Stack) -> AsyncIterator[None]:
        self.engine: AsyncEngine = create_async_engine(stack.database_url)
        yield
        await self.engine.dispose()

    def store(self) -> ReportStore:
        return PostgresReportStore(self.engine)


@pytest.fixture(scope="module")
def feedback_url(stack: Stack, logs_dir: Path) -> Iterator[str]:
    with running_feedback(
        stack.kafka_bootstrap,
        stack.database_url,
        logs_dir / "feedback-reports.log",
        credentials_refresh_s="1",
    ) as base:
        yield base


def _until(found: Callable[[], T | None], what: str, timeout_s: float = 30) -> T:
    """Poll `found()` until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    last: T | None = None
    while time.monotonic() < deadline:
        last = found()
        if last:
            return last
        time.sleep(0.3)
    raise AssertionError(f"no {what} within {timeout_s:g}s (last: {last!r})")


def _report(base: str, key: str, path: str = "/v1/reports/campaigns") -> dict[str, Any]:
    today = datetime.now(UTC).date()
    query = {"from": str(today - timedelta(days=2)), "to": str(today)}
    response = httpx.get(
        f"{base}{path}", params=query, headers={"Authorization": f"Bearer {key}"}, timeout=10
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _produce(stack: Stack, shop: str, *records: tuple[str, bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    for topic, value in records:
        producer.send(topic, value=value, key=f"{shop}:c1".encode())
    producer.flush()
    producer.close()


def _campaigns(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["campaign_id"]: c["figures"] for c in body["campaigns"]}


def test_records_on_the_three_topics_become_the_shops_report_and_no_one_elses(
    stack: Stack, feedback_url: str
) -> None:
    shop, other = unique_shop_id("rep"), unique_shop_id("rep")
    key = add_shop(stack.database_url, shop).api_key.get_secret_value()
    other_key = add_shop(stack.database_url, other).api_key.get_secret_value()
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    parked = TopicWindow(stack.kafka_bootstrap, dead_letter_topic(CONVERSIONS.name).name)
    m1_sent = r.status(shop, "message.sent", "m-1", campaign="cross_sell", at=at)
    statuses = [
        m1_sent,
        r.status(shop, "message.sent", "m-2", campaign="cross_sell", at=at),
        r.status(shop, "message.sent", "m-3", campaign="cross_sell", channel="sms", at=at),
        r.delivery(shop, "message.delivered", "m-3", campaign="cross_sell", at=at),
        r.status(shop, "message.sent", "m-4", campaign="cross_sell", channel="sms", at=at),
        r.delivery(shop, "message.undelivered", "m-4", campaign="cross_sell", at=at),
    ]
    feedback = [
        r.engagement(shop, "message.opened", "m-1", at=at),  # campaign from m-1's sent
        r.engagement(shop, "message.opened", "m-1", at=at + timedelta(hours=1)),
        r.engagement(shop, "message.opened", "m-2", machine=True, campaign="cross_sell", at=at),
        r.engagement(shop, "message.clicked", "m-1", campaign="cross_sell", at=at),
        r.reply(shop, "m-3", ["shipping"], campaign="cross_sell", at=at),
        r.unsubscribed(shop, "m-2", campaign="cross_sell", at=at),
        r.bounced(shop, "m-2", campaign="cross_sell", at=at),
        r.answered(shop, "n-1", "nps", 10, at=at),
        r.answered(shop, "n-2", "nps", 3, at=at, tags=["price"]),
        r.answered(shop, "c-1", "csat", 2, at=at),
        r.answered(shop, "c-1", "csat", 5, at=at + timedelta(minutes=1)),  # replaces the 2
    ]
    conversions = [
        r.conversion(shop, "o-1", "m-1", "33.95", at=at),
        r.conversion(shop, "o-2", "m-1", "12", "USD", at=at),
        b'{"type": "conversion.attributed", "shopid": "' + shop.encode() + b'"}',
    ]
    _produce(
        stack,
        shop,
        *((MESSAGES_STATUS.name, v) for v in statuses),
        *((FEEDBACK_EVENTS.name, v) for v in feedback),
        *((CONVERSIONS.name, v) for v in conversions),
        (MESSAGES_STATUS.name, m1_sent),  # said again: counts nothing
    )
    _produce(
        stack,
        other,
        (MESSAGES_STATUS.name, r.status(other, "message.sent", "x-1", campaign="secret", at=at)),
    )

    def complete() -> dict[str, Any] | None:
        body = _report(feedback_url, key)
        figures = _campaigns(body).get("cross_sell")
        done = figures and figures["converted"] == 2 and figures["opened"] == 1
        return body if done and body["total"]["csat"]["answers"] == 1 else None

    body = _until(complete, "complete report")
    time.sleep(1.5)  # anything counted twice would show by now
    body = _report(feedback_url, key)
    assert body["shop_id"] == shop
    cross_sell = _campaigns(body)["cross_sell"]
    assert {k: v for k, v in cross_sell.items() if isinstance(v, int)} == {
        "sent": 4,
        "delivered": 3,
        "bounced": 2,
        "failed": 0,
        "opened": 1,
        "clicked": 1,
        "machine_opened": 1,
        "machine_clicked": 0,
        "replied": 1,
        "unsubscribed": 1,
        "complained": 0,
        "converted": 2,
    }
    assert cross_sell["revenue"] == [
        {"currency": "EUR", "amount": "33.95"},
        {"currency": "USD", "amount": "12"},
    ]
    review = _campaigns(body)["review_request"]
    assert review["nps"] == {
        "score": 0.0,
        "answers": 2,
        "promoters": 1,
        "passives": 0,
        "detractors": 1,
    }
    assert review["csat"] == {"score": 100.0, "answers": 1, "satisfied": 1}
    assert {t["tag"] for t in body["total"]["top_tags"]} == {"shipping", "price"}
    assert "secret" not in _campaigns(body)
    ours = f"{shop}:c1"
    letters = _until(
        lambda: [x for x in parked.since_start() if x.key == ours], "the broken conversion parked"
    )
    assert [(x.value["service"], x.value["source_topic"]) for x in letters] == [
        ("feedback-reports", CONVERSIONS.name)
    ]
    parked.close()

    theirs = _until(
        lambda: (b := _report(feedback_url, other_key))["campaigns"] and b, "other shop's report"
    )
    assert [c["campaign_id"] for c in theirs["campaigns"]] == ["secret"]
    assert theirs["total"]["sent"] == 1 and theirs["total"]["converted"] == 0
    campaign = _report(feedback_url, other_key, "/v1/reports/campaigns/cross_sell")
    assert campaign["shop_id"] == other and campaign["total"]["sent"] == 0


def test_a_rotated_key_reads_until_its_grace_ends(stack: Stack, feedback_url: str) -> None:
    shop = unique_shop_id("rep")
    old = add_shop(stack.database_url, shop).api_key.get_secret_value()

    async def rotate(grace: timedelta) -> str:
        engine = make_engine(DatabaseSettings(url=SecretStr(stack.database_url)))
        try:
            registry = ShopRegistry(engine, SecretBox(TEST_KEYS))
            return (await registry.rotate(shop, grace=grace)).api_key.get_secret_value()
        finally:
            await engine.dispose()

    assert _report(feedback_url, old)["shop_id"] == shop
    new = asyncio.run(rotate(timedelta(hours=1)))
    assert _report(feedback_url, new)["shop_id"] == shop  # unknown yet: reloaded on the miss
    assert _report(feedback_url, old)["shop_id"] == shop  # in its grace period
    newest = asyncio.run(rotate(timedelta(0)))  # both earlier keys expire now

    def refused() -> bool:
        response = httpx.get(
            f"{feedback_url}/v1/reports/campaigns", headers={"Authorization": f"Bearer {old}"}
        )
        return response.status_code == 401

    _until(refused, "the expired key refused", timeout_s=15)
    assert _report(feedback_url, newest)["shop_id"] == shop


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; not starting is a failure (make test installs it)."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make test` installs it"
    with sync_playwright() as playwright:
        found = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield found
        found.close()


def test_the_report_page_from_the_printed_link_shows_its_chart_in_a_real_browser(
    stack: Stack, feedback_url: str, browser: Browser
) -> None:
    shop = unique_shop_id("rep")
    with ThreadPoolExecutor(1) as thread:  # Playwright's sync API keeps a loop in this one
        added = thread.submit(add_shop, stack.database_url, shop).result()
    key = added.api_key.get_secret_value()
    now = datetime.now(UTC).replace(microsecond=0)
    records = []
    for day in range(3):
        at = now - timedelta(days=day, minutes=5)
        for i in range(3 - day):
            message = f"m-{day}-{i}"
            records.append(
                (
                    MESSAGES_STATUS.name,
                    r.status(shop, "message.sent", message, campaign="cross_sell", at=at),
                )
            )
            if i == 0:
                records.append(
                    (
                        FEEDBACK_EVENTS.name,
                        r.engagement(shop, "message.opened", message, campaign="cross_sell", at=at),
                    )
                )
        records.append(
            (
                MESSAGES_STATUS.name,
                r.status(shop, "message.sent", f"w-{day}", campaign="welcome", at=at),
            )
        )
    records.append(
        (FEEDBACK_EVENTS.name, r.answered(shop, "n-1", "nps", 9, campaign="cross_sell", at=now))
    )
    _produce(stack, shop, *records)
    _until(lambda: _report(feedback_url, key)["total"]["sent"] == 9, "the figures")

    printed = subprocess.run(
        [sys.executable, "-m", "services.cli", "reports", "url", shop, "--days", "1"],
        cwd=ROOT,
        env=service_env(
            stack.kafka_bootstrap, stack.database_url, NUDGE_FEEDBACK_PUBLIC_URL=feedback_url
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert printed.returncode == 0, printed.stderr
    url = printed.stdout.strip()
    assert url.startswith(f"{feedback_url}/reports/") and key not in url

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    response = page.goto(url)
    assert response is not None and response.status == 200
    chart = page.locator("svg.chart")
    assert chart.is_visible()
    assert chart.locator("title").first.text_content() == page.locator("figcaption").text_content()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    assert chart.locator("rect").count() == 2 * 3  # two campaigns, three series
    assert page.locator(".scroll table tbody tr").count() == 2  # a row per campaign
    page.screenshot(path=str(SCREENSHOTS / "report-1-campaigns.png"), full_page=True)

    page.get_by_role("link", name="cross_sell").click()
    page.wait_for_load_state()
    assert page.locator("h1").text_content() == "Test shop: cross_sell"  # its registry name
    chart = page.locator("svg.chart")
    assert chart.is_visible()
    tallest = max(
        float(chart.locator("rect").nth(i).get_attribute("height") or 0)
        for i in range(chart.locator("rect").count())
    )
    assert tallest > 0
    assert "1 answer: 1 promoters" in (page.locator("body").text_content() or "")
    page.screenshot(path=str(SCREENSHOTS / "report-2-campaign.png"), full_page=True)

    page.select_option("select[name=granularity]", "week")
    page.get_by_role("button", name="Show").click()
    page.wait_for_load_state()
    assert "granularity=week" in page.url
    assert page.locator("svg.chart").is_visible()
    page.screenshot(path=str(SCREENSHOTS / "report-3-weekly.png"), full_page=True)
    page.close()
