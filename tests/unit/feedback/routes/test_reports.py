"""`/v1/reports/...` through the app with fakes: the shop's API key (missing, wrong, another
shop's, rotated in its grace period), a fixture of survey answers whose CSAT and NPS were worked
out by hand, every parameter refused by name, and a store that does not answer costing a 503,
never a hung request."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from collections.abc import AsyncIterator, Awaitable
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from aiokafka import ConsumerRecord

from services.feedback.directory.memory import MemoryDirectory
from services.feedback.parts import Parts
from services.feedback.reports.consumer import Reporter
from services.feedback.reports.parts import ReportParts
from services.feedback.reports.store import MemoryReportStore, Stored
from shared.credentials import IssuedApiKey, issue_api_key
from shared.tenancy import ApiKeySnapshot
from shared.topics import CONVERSIONS, FEEDBACK_EVENTS, MESSAGES_STATUS
from tests.support import report_records as r
from tests.support.clocks import PinnedClock
from tests.support.feedback_process import create_app, fake_parts

SHOP, OTHER = "acme", "globex"
TODAY = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
PERIOD = "from=2026-11-20&to=2026-11-30"
DAY1 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
DAY2 = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)


class Registry:
    """The shop registry's API keys, as `load_api_keys` returns them."""

    def __init__(self) -> None:
        self.keys: dict[str, tuple[str, str]] = {}

    def issue(self, shop: str) -> str:
        issued: IssuedApiKey = issue_api_key()
        self.keys[issued.key_id] = (shop, issued.key_hash)
        return issued.key.get_secret_value()

    def expire(self, key: str) -> None:
        self.keys = {k: v for k, v in self.keys.items() if not key.startswith(f"nk_{k}_")}

    async def load(self) -> ApiKeySnapshot:
        return ApiKeySnapshot(dict(self.keys), {SHOP: "Acme Coffee", OTHER: "Globex"})


class Reports:
    def __init__(self, client: httpx.AsyncClient, parts: Parts, registry: Registry) -> None:
        self.client = client
        self.parts = parts
        self.registry = registry
        self.key = registry.issue(SHOP)
        self.other_key = registry.issue(OTHER)
        self.reporter = Reporter(None, _NoParking(), parts.reports.store, MemoryDirectory())
        self._offset = 0

    async def feed(self, topic: str, *values: bytes) -> None:
        records = []
        for raw in values:
            self._offset += 1
            records.append(
                ConsumerRecord(topic, 0, self._offset, 0, 0, b"k", raw, None, 0, len(raw), ())
            )
        await self.reporter.handle(records)

    async def get(self, path: str, key: str | None = None) -> httpx.Response:
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        return await self.client.get(path, headers=headers)


class _NoParking:
    def delivery(self, topic: str, value: bytes, key: str | bytes | None) -> Awaitable[None]:
        raise AssertionError(f"nothing is parked in these tests: {value!r}")


@pytest.fixture
async def reports() -> AsyncIterator[Reports]:
    registry = Registry()
    parts = dataclasses.replace(
        fake_parts(report_timeout_s=0.2), reports=ReportParts.in_memory(registry.load)
    )
    parts = dataclasses.replace(parts, clock=PinnedClock(TODAY))
    app = create_app(parts)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as client:
        found = Reports(client, parts, registry)
        await parts.reports.api_keys.refresh()
        yield found


async def test_without_a_key_nothing_is_answered(reports: Reports) -> None:
    response = await reports.get(f"/v1/reports/campaigns?{PERIOD}")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_wrong_key_is_refused_without_saying_which_part_was_wrong(
    reports: Reports,
) -> None:
    tampered = reports.key[:-2] + ("AA" if not reports.key.endswith("AA") else "BB")
    for key in (tampered, "nk_0123456789ab_nothing", "not-a-key"):
        response = await reports.get(f"/v1/reports/campaigns?{PERIOD}", key)
        assert response.status_code == 401, key
        assert response.json()["detail"] == "invalid API key"


async def test_basic_authorization_with_the_key_as_user_name_works_too(reports: Reports) -> None:
    basic = base64.b64encode(f"{reports.key}:".encode()).decode()
    response = await reports.client.get(
        f"/v1/reports/campaigns?{PERIOD}", headers={"Authorization": f"Basic {basic}"}
    )
    assert response.status_code == 200
    assert response.json()["shop_id"] == SHOP


async def test_a_key_sees_its_own_shop_only(reports: Reports) -> None:
    await reports.feed(
        MESSAGES_STATUS.name,
        r.status(SHOP, "message.sent", "m-1", at=DAY1),
        r.status(OTHER, "message.sent", "m-2", campaign="secret_sale", at=DAY1),
        r.status(OTHER, "message.sent", "m-3", at=DAY1),
    )
    mine = (await reports.get(f"/v1/reports/campaigns?{PERIOD}", reports.key)).json()
    theirs = (await reports.get(f"/v1/reports/campaigns?{PERIOD}", reports.other_key)).json()
    assert mine["shop_id"] == SHOP and theirs["shop_id"] == OTHER
    assert [c["campaign_id"] for c in mine["campaigns"]] == ["abandoned_cart"]
    assert mine["total"]["sent"] == 1 and theirs["total"]["sent"] == 2
    # another shop's campaign, asked for by id with my key: my (empty) figures, not theirs
    found = await reports.get(f"/v1/reports/campaigns/secret_sale?{PERIOD}", reports.key)
    assert found.status_code == 200
    assert found.json()["shop_id"] == SHOP and found.json()["total"]["sent"] == 0


async def test_a_rotated_key_works_until_its_grace_period_ends(reports: Reports) -> None:
    new_key = reports.registry.issue(SHOP)  # rotation: the old key stays while in grace
    await reports.parts.reports.api_keys.refresh()
    for key in (reports.key, new_key):
        response = await reports.get(f"/v1/reports/campaigns?{PERIOD}", key)
        assert response.status_code == 200 and response.json()["shop_id"] == SHOP
    reports.registry.expire(reports.key)  # the grace period is over
    await reports.parts.reports.api_keys.refresh()
    assert (await reports.get(f"/v1/reports/campaigns?{PERIOD}", reports.key)).status_code == 401
    assert (await reports.get(f"/v1/reports/campaigns?{PERIOD}", new_key)).status_code == 200


async def test_a_shop_added_a_moment_ago_is_known_at_once(reports: Reports) -> None:
    fresh = reports.registry.issue("initech")  # not in the snapshot: one reload on the miss
    response = await reports.get(f"/v1/reports/campaigns?{PERIOD}", fresh)
    assert response.status_code == 200 and response.json()["shop_id"] == "initech"


async def _answers(reports: Reports) -> None:
    """Hand-worked fixture.

    NPS (campaign nps_survey), the answer that counts per invitation: 10, 9, 9, 8, 7, 10 (n6
    answered 6, then changed to 10), 3, 0 (n8 said twice, one event): 8 answers, promoters
    10, 9, 9, 10 = 4, passives 8, 7 = 2, detractors 3, 0 = 2: NPS = (4 - 2) / 8 = 25.0.
    CSAT (campaign review_request): 5, 4, 3, 1, 4 (c5 answered 2, then changed to 4): 5
    answers, satisfied 5, 4, 4 = 3: CSAT = 3 / 5 = 60.0.
    Not counted: an answer of another shop, one before the period.
    """
    later = DAY2 + timedelta(hours=3)
    nps = [
        r.answered(SHOP, f"n{i}", "nps", score, campaign="nps_survey", at=DAY1)
        for i, score in enumerate([10, 9, 9, 8, 7, 6, 3], start=1)
    ]
    nps.append(r.answered(SHOP, "n6", "nps", 10, campaign="nps_survey", at=later))
    twice = r.answered(SHOP, "n8", "nps", 0, campaign="nps_survey", at=DAY2, event_id="n8-once")
    csat = [
        r.answered(SHOP, f"c{i}", "csat", score, at=DAY2, tags=tags)
        for i, (score, tags) in enumerate(
            [(5, ["quality"]), (4, []), (3, ["shipping"]), (1, ["shipping", "price"]), (2, [])],
            start=1,
        )
    ]
    csat.append(r.answered(SHOP, "c5", "csat", 4, at=later, tags=["shipping"]))
    outside = [
        r.answered(OTHER, "x1", "nps", 0, campaign="nps_survey", at=DAY1),
        r.answered(SHOP, "early", "csat", 1, at=datetime(2026, 11, 19, tzinfo=UTC)),
    ]
    await reports.feed(FEEDBACK_EVENTS.name, *nps, twice, *csat, *outside)
    await reports.feed(FEEDBACK_EVENTS.name, twice, nps[5])  # a replay changes nothing
    await reports.feed(FEEDBACK_EVENTS.name, r.reply(SHOP, "m-9", ["shipping"], campaign="cart"))


async def test_csat_and_nps_match_the_hand_worked_values(reports: Reports) -> None:
    await _answers(reports)
    body = (await reports.get(f"/v1/reports/campaigns?{PERIOD}", reports.key)).json()
    total = body["total"]
    assert total["nps"] == {
        "score": 25.0,
        "answers": 8,
        "promoters": 4,
        "passives": 2,
        "detractors": 2,
    }
    assert total["csat"] == {"score": 60.0, "answers": 5, "satisfied": 3}
    by_campaign = {c["campaign_id"]: c["figures"] for c in body["campaigns"]}
    assert by_campaign["nps_survey"]["nps"]["score"] == 25.0
    assert by_campaign["nps_survey"]["csat"] == {"score": None, "answers": 0, "satisfied": 0}
    assert by_campaign["review_request"]["csat"]["score"] == 60.0
    # shipping: c3, c4, c5 (its later answer, its first had none) and a reply; price: c4;
    # quality: c1; ties by name
    assert total["top_tags"] == [
        {"tag": "shipping", "count": 4},
        {"tag": "price", "count": 1},
        {"tag": "quality", "count": 1},
    ]


async def test_a_campaign_series_puts_each_answer_on_its_day(reports: Reports) -> None:
    await _answers(reports)
    response = await reports.get(
        "/v1/reports/campaigns/nps_survey?from=2026-11-23&to=2026-11-24", reports.key
    )
    body = response.json()
    assert body["campaign_id"] == "nps_survey" and body["granularity"] == "day"
    days = {b["start"]: b["figures"]["nps"] for b in body["series"]}
    # the 23rd: 10, 9, 9, 8, 7, 3 (n6 moved to the 24th with its change): 3 - 1 of 6
    assert days["2026-11-23"]["answers"] == 6
    assert days["2026-11-23"]["score"] == pytest.approx(100 * 2 / 6)
    # the 24th: n6's 10 and n8's 0
    assert days["2026-11-24"] == {
        "score": 0.0,
        "answers": 2,
        "promoters": 1,
        "passives": 0,
        "detractors": 1,
    }
    assert body["total"]["nps"]["score"] == 25.0


async def test_counts_revenue_and_weekly_buckets(reports: Reports) -> None:
    await reports.feed(
        MESSAGES_STATUS.name,
        *(
            r.status(SHOP, "message.sent", f"m-{i}", campaign="cross_sell", at=DAY1)
            for i in range(3)
        ),
        r.status(SHOP, "message.sent", "m-9", campaign="cross_sell", at=TODAY),
    )
    await reports.feed(
        FEEDBACK_EVENTS.name,
        r.engagement(SHOP, "message.opened", "m-0", campaign="cross_sell", at=DAY1),
        r.engagement(SHOP, "message.opened", "m-0", campaign="cross_sell", at=DAY2),
        r.engagement(SHOP, "message.opened", "m-1", machine=True, campaign="cross_sell"),
    )
    await reports.feed(
        CONVERSIONS.name,
        r.conversion(SHOP, "o-1", "m-0", "10.50", at=DAY1),
        r.conversion(SHOP, "o-2", "m-1", "4.50", at=DAY2),
        r.conversion(SHOP, "o-3", "m-2", "7", "USD", at=DAY2),
    )
    response = await reports.get(
        "/v1/reports/campaigns/cross_sell?from=2026-11-20&to=2026-11-30&granularity=week",
        reports.key,
    )
    body = response.json()
    assert [(b["start"], b["end"]) for b in body["series"]] == [
        ("2026-11-20", "2026-11-22"),
        ("2026-11-23", "2026-11-29"),
        ("2026-11-30", "2026-11-30"),
    ]
    week = body["series"][1]["figures"]
    assert (week["sent"], week["delivered"], week["opened"], week["machine_opened"]) == (3, 3, 1, 1)
    assert week["converted"] == 3
    assert week["revenue"] == [
        {"currency": "EUR", "amount": "15"},
        {"currency": "USD", "amount": "7"},
    ]
    assert body["series"][2]["figures"]["sent"] == 1
    assert body["total"]["sent"] == 4


@pytest.mark.parametrize(
    ("query", "field", "reason"),
    [
        ("from=2026-13-01", "query.from", "must be a date as YYYY-MM-DD"),
        ("from=26-11-01", "query.from", "must be a date as YYYY-MM-DD"),
        ("to=2026-11-31", "query.to", "must be a date as YYYY-MM-DD"),
        ("from=1969-12-31&to=1970-01-02", "query.from", "must lie between"),
        ("from=2026-11-20&to=2026-11-19", "query.to", "is before from"),
        ("from=2024-11-01&to=2026-11-01", "query.from", "at most 366 days"),
        ("from=2026-11-01&from=2026-11-02", "query.from", "is given more than once"),
        ("from=2026-12-05", "query.from", "is after today"),
        ("granularity=month", "query.granularity", "must be day or week"),
    ],
)
async def test_every_parameter_is_refused_by_name(
    reports: Reports, query: str, field: str, reason: str
) -> None:
    response = await reports.get(f"/v1/reports/campaigns/cart?{query}", reports.key)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    assert reason in errors[0]["reason"]


async def test_a_campaign_id_that_no_campaign_could_have_is_refused(reports: Reports) -> None:
    for bad in ("Cart", "a" * 65, "cart%00", "-cart", "%E2%82%AC"):
        response = await reports.get(f"/v1/reports/campaigns/{bad}", reports.key)
        assert response.status_code == 422, bad
        assert response.json()["errors"][0]["field"] == "path.campaign_id"


async def test_the_key_is_checked_before_the_parameters(reports: Reports) -> None:
    response = await reports.get("/v1/reports/campaigns/Bad?from=nonsense")
    assert response.status_code == 401


async def test_the_default_period_is_the_last_30_days(reports: Reports) -> None:
    body = (await reports.get("/v1/reports/campaigns", reports.key)).json()
    assert body["period"] == {
        "from": "2026-11-01",
        "to": "2026-11-30",
        "days": 30,
        "time_zone": "UTC",
    }


class HangingStore(MemoryReportStore):
    async def read(
        self, shop_id: str, first: date, last: date, campaign_id: str | None = None
    ) -> Stored:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")


async def test_a_store_that_does_not_answer_is_a_503_after_the_timeout(reports: Reports) -> None:
    held = reports.parts.reports
    reports.client._transport.app.state.parts = dataclasses.replace(  # type: ignore[attr-defined]
        reports.parts, reports=dataclasses.replace(held, store=HangingStore())
    )
    for path in ("/v1/reports/campaigns", "/v1/reports/campaigns/cart"):
        response = await reports.get(path, reports.key)
        assert response.status_code == 503
        assert response.headers["retry-after"] == "5"


async def test_before_the_keys_are_loaded_a_report_is_a_503() -> None:
    parts = dataclasses.replace(fake_parts(), reports=ReportParts.in_memory())
    transport = httpx.ASGITransport(app=create_app(parts))
    async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as client:
        response = await client.get(
            "/v1/reports/campaigns", headers={"Authorization": "Bearer nk_0123456789ab_x"}
        )
    assert response.status_code == 503 and "retry-after" in response.headers
