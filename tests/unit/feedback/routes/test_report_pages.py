"""`/reports/<token>`: the report page of a signed report link, through the app with fakes: a
chart with its title beside a table of the same figures, no script, a shop-wide link leading to
each campaign, a campaign's link to that campaign only, and broken, expired or other links
refused with a page that says so."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import ConsumerRecord

from services.feedback.directory.memory import MemoryDirectory
from services.feedback.parts import Parts
from services.feedback.reports import links
from services.feedback.reports.consumer import Reporter
from shared import survey_links
from shared.events.feedback import SurveyKind
from shared.topics import FEEDBACK_EVENTS, MESSAGES_STATUS
from tests.support import report_records as r
from tests.support.clocks import PinnedClock
from tests.support.dispatch_process import TEST_LINK_KEYS
from tests.support.feedback_process import create_app, fake_parts

SHOP = "acme"
DAY = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
PERIOD = "from=2026-11-22&to=2026-11-24"


def link(campaign: str | None = None, shop: str = SHOP, ttl: timedelta = timedelta(days=1)) -> str:
    return links.mint(TEST_LINK_KEYS, shop, campaign, datetime.now(UTC), ttl)


class _NoParking:
    def delivery(self, topic: str, value: bytes, key: str | bytes | None) -> Awaitable[None]:
        raise AssertionError("nothing is parked here")


@pytest.fixture
async def page() -> AsyncIterator[tuple[httpx.AsyncClient, Parts]]:
    parts = dataclasses.replace(fake_parts(), clock=PinnedClock(DAY))
    reporter = Reporter(None, _NoParking(), parts.reports.store, MemoryDirectory())
    statuses = [
        r.status(SHOP, "message.sent", f"m-{i}", campaign=c, at=DAY)
        for i, c in enumerate(["cart", "cart", "welcome"])
    ]
    statuses.append(r.status("globex", "message.sent", "g-1", campaign="globex_secret", at=DAY))
    feedback = [
        r.engagement(SHOP, "message.opened", "m-0", campaign="cart", at=DAY),
        r.engagement(SHOP, "message.clicked", "m-0", campaign="cart", at=DAY),
        r.answered(SHOP, "m-1", "nps", 10, campaign="cart", at=DAY, tags=["quality"]),
    ]
    records = [(MESSAGES_STATUS.name, v) for v in statuses] + [
        (FEEDBACK_EVENTS.name, v) for v in feedback
    ]
    await reporter.handle(
        [
            ConsumerRecord(t, 0, i, 0, 0, b"k", v, None, 0, len(v), ())
            for i, (t, v) in enumerate(records)
        ]
    )
    transport = httpx.ASGITransport(app=create_app(parts))
    async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as client:
        yield client, parts


def cells(html: str, row: str) -> list[str]:
    """The cells of the table row headed `row`."""
    found = re.search(
        rf"<tr><th scope=\"row\">(?:<a [^>]*>)?{re.escape(row)}(?:</a>)?</th>(.*?)</tr>", html
    )
    assert found, f"no row {row!r}"
    return re.findall(r"<td>([^<]*)</td>", found.group(1))


async def test_a_shop_link_shows_every_campaign_with_a_chart_and_the_same_figures(
    page: tuple[httpx.AsyncClient, Parts],
) -> None:
    client, _ = page
    token = link()
    response = await client.get(f"/reports/{token}?{PERIOD}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    html = response.text
    assert "<script" not in html.lower() and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )
    assert re.search(r'<svg class="chart" role="img"[^>]*aria-labelledby="chart-title', html)
    assert '<title id="chart-title">Messages sent, opened and clicked per campaign' in html
    # the bars hold what the table holds: cart 2 sent, 1 opened, 1 clicked; welcome 1 sent
    assert "<title>cart: 2 sent</title>" in html and "<title>cart: 1 opened</title>" in html
    assert "<title>welcome: 1 sent</title>" in html
    assert cells(html, "cart")[:5] == ["2", "2", "0", "1", "1"]
    assert cells(html, "welcome")[0] == "1"
    assert cells(html, "All campaigns")[0] == "3"
    assert "globex" not in html  # another shop's campaigns never show
    assert f'href="/reports/{token}/campaigns/cart?from=2026-11-22&amp;to=2026-11-24"' in html


async def test_a_campaign_page_shows_its_days_and_scores(
    page: tuple[httpx.AsyncClient, Parts],
) -> None:
    client, _ = page
    token = link()
    response = await client.get(f"/reports/{token}/campaigns/cart?{PERIOD}")
    assert response.status_code == 200
    html = response.text
    assert [cells(html, day)[0] for day in ("2026-11-22", "2026-11-23", "2026-11-24")] == [
        "0",
        "2",
        "0",
    ]
    assert "<title>2026-11-23: 2 sent</title>" in html
    assert "1 answer: 1 promoters, 0 passives, 0 detractors" in html
    assert '<p class="big">100.0</p>' in html  # NPS
    assert "quality (1)" in html
    assert f'href="/reports/{token}?from=2026-11-22&amp;to=2026-11-24"' in html  # back


async def test_a_campaign_link_shows_that_campaign_and_no_other(
    page: tuple[httpx.AsyncClient, Parts],
) -> None:
    client, _ = page
    token = link("welcome")
    response = await client.get(f"/reports/{token}?{PERIOD}")
    assert response.status_code == 200
    assert cells(response.text, "Whole period")[0] == "1"
    assert "All campaigns" not in response.text
    other = await client.get(f"/reports/{token}/campaigns/cart?{PERIOD}")
    assert other.status_code == 404
    assert "cart" not in other.text


async def test_links_that_are_not_ours_or_expired_show_a_page_that_says_so(
    page: tuple[httpx.AsyncClient, Parts],
) -> None:
    client, _ = page
    token = link()
    survey = survey_links.sign(
        TEST_LINK_KEYS,
        survey_links.Invitation(
            SHOP, "c1", "0f4b5c1e-3a3f-4c55-9d0e-5a1c2b3d4e5f", "cart", SurveyKind.NPS, DAY
        ),
    )
    expired = links.sign(
        TEST_LINK_KEYS, links.ReportLink(SHOP, None, datetime.now(UTC) - timedelta(seconds=1))
    )
    kid, payload, mac = token.split(".")
    altered = f"{kid}.{payload}.{'A' if mac[0] != 'A' else 'B'}{mac[1:]}"  # not the spare bits
    for bad in (altered, "nonsense", survey):
        response = await client.get(f"/reports/{bad}")
        assert response.status_code == 404, bad
        assert "This report link does not work" in response.text
    response = await client.get(f"/reports/{expired}")
    assert response.status_code == 410
    assert "expired" in response.text


async def test_a_bad_parameter_is_named_on_the_page(page: tuple[httpx.AsyncClient, Parts]) -> None:
    client, _ = page
    token = link()
    response = await client.get(f"/reports/{token}?from=yesterday")
    assert response.status_code == 422
    assert "<code>query.from</code>: must be a date as YYYY-MM-DD" in response.text
    response = await client.get(f"/reports/{token}/campaigns/Not%20one")
    assert response.status_code == 422
    assert "<code>path.campaign_id</code>" in response.text
