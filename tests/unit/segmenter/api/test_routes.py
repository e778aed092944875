"""The read API through the app, with the in-memory projection: the shop's API key (missing,
wrong, another shop's: a 404, never a 403), a customer's profile and segments, sizes, pages of
members walked with the cursor, every parameter refused by name, hostile paths never a 500,
and a projection that does not answer costing a 503, never a hung request."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from services.segmenter.api import cursor
from services.segmenter.api.app import create_app
from services.segmenter.api.parts import Parts
from services.segmenter.api.settings import SegmenterApiSettings
from services.segmenter.api.store import MemoryProjection
from shared.credentials import issue_api_key
from shared.tenancy import ApiKeySnapshot
from tests.support.profile_events import NOON, profile_event

SHOP, OTHER = "acme", "globex"


class Registry:
    """The shop registry's API keys, as `load_api_keys` returns them."""

    def __init__(self) -> None:
        self.keys: dict[str, tuple[str, str]] = {}

    def issue(self, shop: str) -> str:
        issued = issue_api_key()
        self.keys[issued.key_id] = (shop, issued.key_hash)
        return issued.key.get_secret_value()

    async def load(self) -> ApiKeySnapshot:
        return ApiKeySnapshot(dict(self.keys), {SHOP: "Acme Coffee", OTHER: "Globex"})


class Api:
    def __init__(self, client: httpx.AsyncClient, parts: Parts, registry: Registry) -> None:
        self.client = client
        self.parts = parts
        self.key = registry.issue(SHOP)
        self.other_key = registry.issue(OTHER)

    async def get(self, path: str, key: str | None = None, **params: Any) -> httpx.Response:
        headers = {} if key is None else {"Authorization": f"Bearer {key}"}
        return await self.client.get(path, headers=headers, params=params)

    async def mine(self, path: str, **params: Any) -> httpx.Response:
        return await self.get(path, self.key, **params)


def _app_with(parts: Parts) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(parts, checks=lambda: {"profiles": True}))
    return httpx.AsyncClient(transport=transport, base_url="http://segmenter-api")


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    registry = Registry()
    settings = SegmenterApiSettings(read_timeout_s=0.2, page_size=3, max_page_size=50)
    parts = Parts.in_memory(registry.load, settings)
    async with _app_with(parts) as client:
        found = Api(client, parts, registry)
        await parts.api_keys.refresh()
        yield found


async def test_without_a_key_nothing_is_answered(api: Api) -> None:
    for path in ("/v1/customers/c-1", "/v1/segments", "/v1/segments/vip/members"):
        response = await api.get(path)
        assert response.status_code == 401, path
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_a_wrong_key_is_refused_without_saying_which_part_was_wrong(api: Api) -> None:
    tampered = api.key[:-2] + ("AA" if not api.key.endswith("AA") else "BB")
    for key in (tampered, "nk_0123456789ab_nothing", "not-a-key"):
        response = await api.get("/v1/segments", key)
        assert response.status_code == 401, key
        assert response.json()["detail"] == "invalid API key"


async def test_the_key_is_checked_before_the_parameters(api: Api) -> None:
    response = await api.get("/v1/segments/NOT-VALID/members", limit="x")
    assert response.status_code == 401


async def test_basic_authorization_with_the_key_as_user_name_works_too(api: Api) -> None:
    basic = base64.b64encode(f"{api.key}:".encode()).decode()
    response = await api.client.get("/v1/segments", headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200 and response.json()["shop_id"] == SHOP


async def test_a_customer_is_answered_with_the_profile_and_its_segments(api: Api) -> None:
    entered = NOON - timedelta(days=2)
    event = profile_event(SHOP, "c-1", segments=["vip", "repeat_buyers"], since=entered, orders=3)
    await api.parts.store.apply(event)
    response = await api.mine("/v1/customers/c-1")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert (body["shop_id"], body["customer_id"]) == (SHOP, "c-1")
    assert body["as_of"] == "2026-11-23T12:00:00Z"
    profile = body["profile"]
    assert profile["orders"] == 3 and profile["lifecycle"] == "repeat"
    assert profile["revenue"] == {"amount": "40.00", "currency": "EUR"}
    assert profile["repeat_interval_days"] == "12.5"
    assert profile["segments"] == [
        {"segment_id": "vip", "since": "2026-11-21T12:00:00Z", "rule_version": 1},
        {"segment_id": "repeat_buyers", "since": "2026-11-21T12:00:00Z", "rule_version": 1},
    ]


async def test_another_shops_customer_is_not_found_exactly_as_a_missing_one(api: Api) -> None:
    await api.parts.store.apply(profile_event(OTHER, "c-9", segments=["vip"]))
    theirs = await api.mine("/v1/customers/c-9")
    missing = await api.mine("/v1/customers/c-404")
    assert theirs.status_code == missing.status_code == 404
    assert theirs.json() == missing.json()
    assert (await api.get("/v1/customers/c-9", api.other_key)).status_code == 200


async def test_an_anonymous_visitor_is_not_a_customer(api: Api) -> None:
    await api.parts.store.apply(profile_event(SHOP, anonymous="v-1", segments=["vip"], orders=0))
    for path in ("/v1/customers/v-1", "/v1/customers/anon:v-1"):
        assert (await api.mine(path)).status_code == 404
    assert (await api.mine("/v1/segments")).json()["segments"] == []
    assert (await api.mine("/v1/segments/vip")).json()["size"] == 0


async def test_customer_ids_with_any_characters_are_found_url_encoded(api: Api) -> None:
    for customer in ("a/b", "x y", "é?#%", "1234567890123456789012"):
        await api.parts.store.apply(profile_event(SHOP, customer))
        raw_path = f"/v1/customers/{quote(customer, safe='')}".encode()
        url = httpx.URL("http://segmenter-api/").copy_with(raw_path=raw_path)
        response = await api.client.get(url, headers={"Authorization": f"Bearer {api.key}"})
        assert response.status_code == 200, customer
        assert response.json()["customer_id"] == customer


async def test_a_customer_id_no_customer_can_have_is_refused_by_name(api: Api) -> None:
    for path in (f"/v1/customers/{'x' * 256}", "/v1/customers/"):
        response = await api.mine(path)
        assert response.status_code == 422, path
        assert [e["field"] for e in response.json()["errors"]] == ["path.customer_id"]


async def test_segments_are_listed_with_their_sizes_for_the_callers_shop_only(api: Api) -> None:
    await api.parts.store.apply(
        profile_event(SHOP, "c-1", segments=["vip", "repeat_buyers"]),
        profile_event(SHOP, "c-2", segments=["vip"]),
        profile_event(OTHER, "c-1", segments=["secret_sale"]),
    )
    body = (await api.mine("/v1/segments")).json()
    assert body == {
        "shop_id": SHOP,
        "segments": [{"segment_id": "repeat_buyers", "size": 1}, {"segment_id": "vip", "size": 2}],
    }
    one = (await api.mine("/v1/segments/vip")).json()
    assert one == {"shop_id": SHOP, "segment_id": "vip", "size": 2}
    theirs = (await api.mine("/v1/segments/secret_sale")).json()
    assert theirs == {"shop_id": SHOP, "segment_id": "secret_sale", "size": 0}


async def test_members_are_walked_page_by_page_with_the_cursor(api: Api) -> None:
    customers = [f"c-{i:02d}" for i in range(8)]
    await api.parts.store.apply(*(profile_event(SHOP, c, segments=["vip"]) for c in customers))
    await api.parts.store.apply(profile_event(OTHER, "c-99", segments=["vip"]))
    seen: list[str] = []
    pages = 0
    params: dict[str, Any] = {}
    while True:
        response = await api.mine("/v1/segments/vip/members", **params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["shop_id"] == SHOP and body["segment_id"] == "vip"
        seen += [m["customer_id"] for m in body["members"]]
        pages += 1
        if body["next_cursor"] is None:
            break
        params = {"cursor": body["next_cursor"]}
    assert seen == customers  # default page size 3: 3 + 3 + 2, and never another shop's
    assert pages == 3
    big = (await api.mine("/v1/segments/vip/members", limit=8)).json()
    assert len(big["members"]) == 8 and big["next_cursor"] is None
    first = big["members"][0]
    assert first == {"customer_id": "c-00", "since": "2026-11-23T12:00:00Z", "rule_version": 1}


async def test_an_empty_segment_is_an_empty_last_page(api: Api) -> None:
    body = (await api.mine("/v1/segments/nobody/members")).json()
    assert body["members"] == [] and body["next_cursor"] is None


@pytest.mark.parametrize(
    ("path", "params", "field", "reason"),
    [
        ("/v1/segments/VIP", {}, "path.segment_id", "must be a segment id"),
        ("/v1/segments/-vip/members", {}, "path.segment_id", "must be a segment id"),
        (f"/v1/segments/{'v' * 101}", {}, "path.segment_id", "must be a segment id"),
        ("/v1/segments/vip%0A", {}, "path.segment_id", "must be a segment id"),
        ("/v1/segments/vip/members", {"limit": "0"}, "query.limit", "from 1 to 50"),
        ("/v1/segments/vip/members", {"limit": "51"}, "query.limit", "from 1 to 50"),
        ("/v1/segments/vip/members", {"limit": "1.5"}, "query.limit", "from 1 to 50"),
        ("/v1/segments/vip/members", {"limit": "²"}, "query.limit", "from 1 to 50"),
        ("/v1/segments/vip/members", {"limit": "9" * 40}, "query.limit", "from 1 to 50"),
        ("/v1/segments/vip/members", {"limit": ["2", "3"]}, "query.limit", "more than once"),
        ("/v1/segments/vip/members", {"cursor": "!!!"}, "query.cursor", "not a cursor"),
        ("/v1/segments/vip/members", {"cursor": "A" * 3000}, "query.cursor", "not a cursor"),
        ("/v1/segments/vip/members", {"cursor": ["a", "b"]}, "query.cursor", "more than once"),
    ],
)
async def test_every_parameter_is_refused_by_name(
    api: Api, path: str, params: dict[str, Any], field: str, reason: str
) -> None:
    response = await api.mine(path, **params)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    errors = response.json()["errors"]
    assert [e["field"] for e in errors] == [field]
    assert reason in errors[0]["reason"]


async def test_a_cursor_of_another_segment_or_not_ours_is_refused(api: Api) -> None:
    forged = [
        cursor.encode("lapsed", "c-1"),
        base64.urlsafe_b64encode(b"2\x1fvip\x1fc-1").decode(),  # another version
        base64.urlsafe_b64encode(b"1\x1fvip\x1fc\x00-1").decode(),
        base64.urlsafe_b64encode(b"1\x1fvip\x1f").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ]
    for given in forged:
        response = await api.mine("/v1/segments/vip/members", cursor=given)
        assert response.status_code == 422, given
        assert response.json()["errors"][0]["field"] == "query.cursor"
    ours = cursor.encode("vip", "c-1")
    assert (await api.mine("/v1/segments/vip/members", cursor=ours)).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/v1/customers/%00",
        "/v1/customers/a%00b",
        "/v1/customers/%FF%FE",
        "/v1/customers/%ED%A0%80",
        "/v1/customers/..%2F..%2Fsegments",
        "/v1/customers/" + "%F0%9F%9B%92" * 70,
        "/v1/customers/%20",
        "/v1/segments/%00",
        "/v1/segments/vip/members?limit=%00&cursor=%FF",
        "/v1/segments/vip/members?cursor=%00",
        "/v1/segments/vip/members?cursor=====",
        "/v1/segments/%E2%80%AE/members",
        "/v1/customers",
        "/v1/customers/",
        "/v1/segments/vip/members/extra",
    ],
)
async def test_no_input_gets_a_500(api: Api, path: str) -> None:
    response = await api.client.get(path, headers={"Authorization": f"Bearer {api.key}"})
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"] == "application/problem+json"


class SlowProjection(MemoryProjection):
    async def segments(self, shop_id: str) -> Any:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def members(self, shop_id: str, segment_id: str, after: str | None, limit: int) -> Any:
        raise OSError("connection refused")


async def test_a_projection_that_does_not_answer_is_a_503_after_the_timeout(api: Api) -> None:
    app = api.client._transport.app  # type: ignore[attr-defined]
    app.state.parts = dataclasses.replace(api.parts, store=SlowProjection())
    for path in ("/v1/segments", "/v1/segments/vip/members"):
        response = await api.mine(path)
        assert response.status_code == 503, path
        assert response.headers["retry-after"] == "5"


async def test_before_the_keys_are_loaded_a_read_is_a_503() -> None:
    async with _app_with(Parts.in_memory()) as client:
        response = await client.get(
            "/v1/segments", headers={"Authorization": "Bearer nk_0123456789ab_x"}
        )
    assert response.status_code == 503 and "retry-after" in response.headers


async def test_readiness_says_what_is_missing() -> None:
    registry = Registry()
    parts = Parts.in_memory(registry.load)
    assigned = {"profiles": False}
    app = create_app(parts, checks=lambda: dict(assigned))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://segmenter-api"
    ) as client:
        assert (await client.get("/healthz")).status_code == 200
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.json()["checks"] == {"credentials": False, "profiles": False}
        await parts.api_keys.refresh()
        assigned["profiles"] = True
        response = await client.get("/readyz")
        assert response.status_code == 200 and response.json()["ready"] is True
        metrics = await client.get("/metrics")
        assert "nudge_segmenter_api_requests_total" in metrics.text


async def test_the_openapi_document_is_served_with_every_route(api: Api) -> None:
    document = (await api.client.get("/openapi.json")).json()
    assert set(document["paths"]) >= {
        "/v1/customers/{customer_id}",
        "/v1/segments",
        "/v1/segments/{segment_id}",
        "/v1/segments/{segment_id}/members",
        "/healthz",
        "/readyz",
        "/metrics",
    }
    customer = document["paths"]["/v1/customers/{customer_id}"]["get"]
    assert {"200", "401", "404", "422", "503"} <= set(customer["responses"])


def test_a_cursor_gives_back_the_customer_id_it_was_made_with() -> None:
    for customer in ("c/é 1", "=", "\x1f", "x" * 255):
        assert cursor.decode("vip", cursor.encode("vip", customer)) == customer
