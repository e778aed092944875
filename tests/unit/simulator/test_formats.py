"""The simulator's requests are what ingest accepts: every one of a simulated week of a few
hundred customers goes through ingest's own parsing (signature check, adapters, models)."""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pydantic import SecretStr

from services.ingest.access import Access
from services.ingest.adapters.shopify import map_shopify_webhook
from services.ingest.routes.native import native_item
from services.ingest.routes.segment import segment_item
from services.ingest.settings import IngestSettings
from services.simulator.behaviour import Action, Kind, merge, timeline
from services.simulator.formats import (
    Batcher,
    Door,
    Format,
    HttpRequest,
    ShopKeys,
    render,
)
from services.simulator.population import population
from shared.events import EventEnvelope
from shared.tenancy import ShopAccess

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
SHOPS = {
    "sim-shopify": ShopKeys("sim-shopify", Format.SHOPIFY, "nk_shopify", "whsec-shopify"),
    "sim-segment": ShopKeys("sim-segment", Format.SEGMENT, "nk_segment", "whsec-segment"),
    "sim-native": ShopKeys("sim-native", Format.NATIVE, "nk_native", "whsec-native"),
}


def _access(keys: ShopKeys) -> ShopAccess:
    return ShopAccess(
        shop_id=keys.shop_id,
        shopify_domain=keys.shopify_domain,
        webhook_secrets=(SecretStr(keys.webhook_secret),),
        rate_limit_per_s=5000,
        require_signature=False,
    )


def _week(size: int, seed: int = 11) -> list[Action]:
    people = population(seed, tuple(SHOPS), size)
    return list(merge(timeline(c, START, 7) for c in people))


def _headers(request: HttpRequest) -> dict[str, str]:
    return {name.lower(): value for name, value in request.headers}


def _api_key(headers: dict[str, str]) -> str:
    scheme, _, value = headers["authorization"].partition(" ")
    if scheme == "Bearer":
        return value
    assert scheme == "Basic"
    return base64.b64decode(value).decode().partition(":")[0]


def ingest_events(request: HttpRequest) -> list[EventEnvelope]:
    """What ingest makes of `request`, by its own functions; fails on anything it refuses."""
    keys = SHOPS[request.shop]
    shop = _access(keys)
    headers = _headers(request)
    settings = IngestSettings()
    assert headers["content-type"] == "application/json"
    assert len(request.body) <= settings.max_body_bytes
    payload: dict[str, Any] = orjson.loads(request.body)
    if request.door is Door.SHOPIFY:
        presented = base64.b64decode(headers["x-shopify-hmac-sha256"])
        Access.verify_shopify(shop, presented, request.body)  # raises a 401 Problem if not
        assert headers["x-shopify-shop-domain"] == keys.shopify_domain
        return list[EventEnvelope](
            map_shopify_webhook(
                shop_id=shop.shop_id,
                topic=headers["x-shopify-topic"],
                payload=payload,
                webhook_id=headers["x-shopify-webhook-id"],
                triggered_at=datetime.fromisoformat(headers["x-shopify-triggered-at"]),
                shop_domain=headers["x-shopify-shop-domain"],
            )
        )
    assert _api_key(headers) == keys.api_key
    if request.door is Door.NATIVE:
        assert request.path == "/v1/events"
        entries = payload["events"]
        assert 0 < len(entries) <= settings.max_batch_events
        items = [native_item(entry, shop) for entry in entries]
    else:
        if request.path == "/v1/batch":
            calls, kind = payload["batch"], None
        else:
            calls, kind = [payload], request.path.removeprefix("/v1/")
        assert 0 < len(calls) <= settings.max_batch_events
        items = [segment_item(call, shop, kind) for call in calls]
    events: list[EventEnvelope] = []
    for item in items:
        assert not item.errors, item.errors
        assert item.ignored_reason is None, item.ignored_reason
        events.extend(item.events)
    return events


@pytest.fixture(scope="module")
def week() -> list[Action]:
    return _week(300)


def test_every_request_of_a_simulated_week_is_accepted_by_ingests_parsers(
    week: list[Action],
) -> None:
    requests = render(week, SHOPS)
    types: Counter[str] = Counter()
    for request in requests:
        for event in ingest_events(request):
            types[event.type] += 1
            assert event.shopid == request.shop
    kinds = Counter(action.kind for action in week)
    assert set(kinds) == set(Kind), "the week should show every kind of action"
    assert {
        "customer.created",
        "customer.updated",
        "customer.identified",
        "product.viewed",
        "product.added",
        "cart.updated",
        "checkout.started",
        "order.placed",
        "order.cancelled",
        "shipment.created",
        "shipment.status_changed",
        "shipment.delivered",
        "subscription.changed",
    } <= set(types)


def test_each_format_says_each_action_in_its_own_door(week: list[Action]) -> None:
    doors: dict[tuple[str, str], set[str]] = {}
    for action in week:
        for request in render([action], SHOPS):
            doors.setdefault((request.shop, action.kind.value), set()).add(request.door.value)
    assert doors["sim-shopify", "order_placed"] == {"shopify"}
    assert doors["sim-shopify", "viewed"] == {"native"}  # a storefront pixel, not a webhook
    assert doors["sim-segment", "viewed"] == {"segment"}
    assert doors["sim-segment", "shipped"] == {"native"}  # not in the Segment spec
    assert doors["sim-segment", "signed_up"] <= {"segment", "native"}
    assert all(found == {"native"} for (shop, _), found in doors.items() if shop == "sim-native")


def test_orders_paid_repeats_orders_create_and_is_marked_an_expected_duplicate(
    week: list[Action],
) -> None:
    order = next(
        a for a in week if a.kind is Kind.ORDER_PLACED and a.customer.shop == "sim-shopify"
    )
    create, paid = render([order], SHOPS)
    assert (_headers(create)["x-shopify-topic"], create.expect_duplicate) == (
        "orders/create",
        False,
    )
    assert (_headers(paid)["x-shopify-topic"], paid.expect_duplicate) == ("orders/paid", True)
    assert [e.id for e in ingest_events(create)] == [e.id for e in ingest_events(paid)]
    assert _headers(create)["x-shopify-webhook-id"] != _headers(paid)["x-shopify-webhook-id"]


def test_a_rerun_renders_byte_identical_requests_and_ids() -> None:
    first = render(_week(40), SHOPS)
    again = render(_week(40), SHOPS)
    assert [(r.path, r.headers, r.body) for r in first] == [
        (r.path, r.headers, r.body) for r in again
    ]
    other_seed = render(_week(40, seed=12), SHOPS)
    assert {r.refs for r in first}.isdisjoint({r.refs for r in other_seed})


def test_event_ids_are_unique_across_the_week_but_for_facts_told_again(
    week: list[Action],
) -> None:
    """orders/paid repeats orders/create; a cart checked out twice (left, then paid) links
    the same cart to the same customer twice, one customer.identified fact."""
    ids: Counter[str] = Counter()
    types: dict[str, str] = {}
    for request in render(week, SHOPS):
        if request.expect_duplicate:
            continue
        for event in ingest_events(request):
            ids[event.id] += 1
            types[event.id] = event.type
    repeated = {types[event_id] for event_id, count in ids.items() if count > 1}
    assert repeated <= {"customer.identified"}


def test_batches_keep_each_customers_order_and_respect_the_size_limit(
    week: list[Action],
) -> None:
    batcher = Batcher(SHOPS, max_items=5)
    window = week[:400]
    for action in window:
        batcher.add(action)
    requests = batcher.flush()
    assert len(batcher) == 0
    assert sum(len(r.actions) for r in requests) >= len(window)
    seen: dict[str, list[int]] = {}
    for request in requests:
        payload = json.loads(request.body)
        entries = payload.get("events") or payload.get("batch") or [payload]
        assert len(entries) == len(request.actions) <= 5
        for action in request.actions:
            seen.setdefault(action.customer.key, []).append(action.seq)
    assert seen, "the window should hold several customers"
    for seqs in seen.values():
        assert seqs == sorted(seqs)
    assert any(r.path == "/v1/batch" for r in requests)
    assert any(r.path == "/v1/events" and len(r.actions) > 1 for r in requests)
