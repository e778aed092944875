"""POST /v1/events against the real service, broker and database."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from aiokafka.partitioner import DefaultPartitioner
from prometheus_client.parser import text_string_to_metric_families

from services.ingest.access import sign_native
from tests.support.ingest_process import running_ingest
from tests.support.kafka_records import TopicWindow
from tests.support.payloads import order_placed, product_viewed
from tests.support.shops import add_shop
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


def post(base: str, key: str, body: object, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{base}/v1/events",
        content=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json", **headers},
        timeout=10,
    )


def test_mixed_batch_publishes_exactly_the_good_items(
    stack: Stack, ingest_url: str, shop_events: TopicWindow
) -> None:
    shop = add_shop(stack.database_url)
    key = shop.api_key.get_secret_value()
    good = order_placed("9007199254740993")
    anonymous = product_viewed(anonymous_id="visitor-7")
    missing_total = order_placed("c-2")
    del missing_total["data"]["total"]
    wrong_type = order_placed("c-3")
    wrong_type["data"]["items"][0]["quantity"] = "many"
    odd_zone = {
        "id": "c-6-created",
        "type": "customer.created",
        "time": "2026-11-23T10:15:00Z",
        "customerid": "c-6",
        "data": {"time_zone": "America"},
    }
    unknown_type = {**order_placed("c-4"), "type": "order.teleported"}
    float_money = order_placed("c-5")
    float_money["data"]["total"] = {"amount": "1e999", "currency": "EUR"}

    response = post(
        ingest_url,
        key,
        {
            "events": [
                good,
                missing_total,
                anonymous,
                wrong_type,
                unknown_type,
                float_money,
                odd_zone,
            ]
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert [r["status"] for r in body["results"]] == [
        "accepted",
        "rejected",
        "accepted",
        "rejected",
        "rejected",
        "rejected",
        "rejected",
    ]
    assert body["accepted"] == 2 and body["rejected"] == 5
    assert body["results"][6]["errors"][0]["field"] == "data.time_zone"
    assert body["results"][1]["errors"] == [{"field": "data.total", "reason": "Field required"}]
    assert body["results"][3]["errors"][0]["field"] == "data.items.0.quantity"
    assert body["results"][4]["errors"][0]["field"] == "type"
    assert body["results"][5]["errors"][0]["field"] == "data.total.amount"

    records = shop_events.for_shop(shop.shop_id)
    assert sorted(r.value["id"] for r in records) == sorted([good["id"], anonymous["id"]])
    by_id = {r.value["id"]: r for r in records}
    assert by_id[good["id"]].key == f"{shop.shop_id}:9007199254740993"
    assert by_id[anonymous["id"]].key == f"{shop.shop_id}:anon:visitor-7"
    placed = by_id[good["id"]].value
    assert placed["data"]["total"] == {"amount": "59.90", "currency": "EUR"}
    assert placed["time"] == "2026-11-23T09:15:00Z"
    assert placed["specversion"] == "1.0"
    assert placed["source"] == f"/shops/{shop.shop_id}/api"


def test_batch_with_only_bad_items_is_422(
    stack: Stack, ingest_url: str, shop_events: TopicWindow
) -> None:
    shop = add_shop(stack.database_url)
    bad = order_placed("c-1")
    bad["time"] = "yesterday"
    response = post(ingest_url, shop.api_key.get_secret_value(), {"events": [bad, 42]})
    assert response.status_code == 422
    results = response.json()["results"]
    assert results[0]["errors"][0]["field"] == "time"
    assert results[1]["errors"][0]["field"] == "(item)"
    assert shop_events.for_shop(shop.shop_id) == []


def test_replayed_events_are_published_once(
    stack: Stack, ingest_url: str, shop_events: TopicWindow
) -> None:
    shop = add_shop(stack.database_url)
    key = shop.api_key.get_secret_value()
    batch = {"events": [order_placed("c-1"), order_placed("c-2")]}
    first = post(ingest_url, key, batch)
    second = post(ingest_url, key, batch)
    assert first.json()["accepted"] == 2
    assert second.status_code == 200
    assert second.json()["duplicate"] == 2
    assert [r["status"] for r in second.json()["results"]] == ["duplicate", "duplicate"]
    # the same id twice inside one batch is one event too
    twin = order_placed("c-3")
    third = post(ingest_url, key, {"events": [twin, twin]})
    assert [r["status"] for r in third.json()["results"]] == ["accepted", "accepted"]
    assert len(shop_events.for_shop(shop.shop_id)) == 3


def test_records_land_where_kafkas_default_partitioner_puts_their_key(
    stack: Stack, ingest_url: str, shop_events: TopicWindow
) -> None:
    """Other services produce records for the same customers with the Java client's
    partitioner; a customer's records must share one partition whoever wrote them."""
    shop = add_shop(stack.database_url)
    events = [order_placed(f"c-{n}") for n in range(40)]
    assert post(ingest_url, shop.api_key.get_secret_value(), {"events": events}).json()[
        "accepted"
    ] == len(events)
    records = shop_events.for_shop(shop.shop_id)
    partitions = shop_events.partitions
    assert len(records) == 40
    assert len({r.partition for r in records}) > 1
    for record in records:
        expected = DefaultPartitioner()(record.key.encode(), partitions, partitions)
        assert record.partition == expected, record.key


def test_event_ids_are_scoped_to_their_shop(
    stack: Stack, ingest_url: str, shop_events: TopicWindow
) -> None:
    shop_a = add_shop(stack.database_url)
    shop_b = add_shop(stack.database_url)
    event = order_placed("c-1", event_id="order-42")
    for shop in (shop_a, shop_b):
        response = post(ingest_url, shop.api_key.get_secret_value(), {"events": [event]})
        assert response.json()["results"][0]["status"] == "accepted"
    assert len(shop_events.for_shop(shop_a.shop_id)) == 1
    assert len(shop_events.for_shop(shop_b.shop_id)) == 1


def test_source_stays_inside_the_shop(stack: Stack, ingest_url: str) -> None:
    shop = add_shop(stack.database_url)
    key = shop.api_key.get_secret_value()
    own = {**order_placed("c-1"), "source": f"/shops/{shop.shop_id}/pos"}
    foreign = {**order_placed("c-2"), "source": "/shops/someone-else/shopify"}
    results = post(ingest_url, key, {"events": [own, foreign]}).json()["results"]
    assert results[0]["status"] == "accepted"
    assert results[1]["errors"][0]["field"] == "source"


def test_a_key_never_writes_for_another_shop(
    stack: Stack, ingest_url: str, shop_events: TopicWindow
) -> None:
    shop_a = add_shop(stack.database_url)
    shop_b = add_shop(stack.database_url)
    forged = {**order_placed("c-1"), "shopid": shop_b.shop_id}
    response = post(ingest_url, shop_a.api_key.get_secret_value(), {"events": [forged]})
    assert response.status_code == 422
    assert response.json()["results"][0]["errors"] == [
        {"field": "shopid", "reason": "does not match the API key's shop"}
    ]
    assert shop_events.for_shop(shop_b.shop_id) == []
    assert shop_events.for_shop(shop_a.shop_id) == []


@pytest.mark.parametrize(
    ("headers", "content", "status", "detail_part"),
    [
        ({"Content-Type": "application/json"}, b"{not json", 400, "not valid JSON"),
        ({"Content-Type": "text/plain"}, b"{}", 415, "Content-Type"),
        ({"Content-Type": "application/json"}, b"[1, 2]", 422, "JSON object"),
        ({"Content-Type": "application/json"}, b'{"events": []}', 422, "non-empty"),
        ({"Content-Type": "application/json"}, b"", 400, "empty"),
    ],
)
def test_unusable_bodies(
    stack: Stack,
    ingest_url: str,
    headers: dict[str, str],
    content: bytes,
    status: int,
    detail_part: str,
) -> None:
    shop = add_shop(stack.database_url)
    response = httpx.post(
        f"{ingest_url}/v1/events",
        content=content,
        headers={"Authorization": f"Bearer {shop.api_key.get_secret_value()}", **headers},
    )
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert detail_part in response.json()["detail"]


def test_oversized_bodies_and_batches_are_413(
    stack: Stack, ingest_url: str, shop_events: TopicWindow
) -> None:
    shop = add_shop(stack.database_url)
    key = shop.api_key.get_secret_value()
    huge = post(ingest_url, key, {"events": [order_placed("c-1")], "padding": "x" * (1024 * 1024)})
    assert huge.status_code == 413
    too_many = post(ingest_url, key, {"events": [order_placed("c-1") for _ in range(1001)]})
    assert too_many.status_code == 413
    assert "at most 1000" in too_many.json()["detail"]
    assert shop_events.for_shop(shop.shop_id) == []


def test_bad_keys_are_401(stack: Stack, ingest_url: str) -> None:
    shop = add_shop(stack.database_url)
    body = {"events": [order_placed("c-1")]}
    assert httpx.post(f"{ingest_url}/v1/events", json=body).status_code == 401
    for header in (b"Basic \xff\xfe", b"Basic !!!", b"Bearer", b"Token abc"):
        odd = httpx.post(f"{ingest_url}/v1/events", json=body, headers={b"Authorization": header})
        assert odd.status_code == 401, header
    real = shop.api_key.get_secret_value()
    tampered = real[:-4] + ("aaaa" if not real.endswith("aaaa") else "bbbb")
    for key in ("nope", tampered, "nk_000000000000_" + "x" * 43):
        response = post(ingest_url, key, body)
        assert response.status_code == 401, key
        assert response.json()["detail"] == "invalid API key"


def test_signed_requests(stack: Stack, ingest_url: str, shop_events: TopicWindow) -> None:
    shop = add_shop(stack.database_url, require_signature=True)
    key = shop.api_key.get_secret_value()
    secret = shop.webhook_secret.get_secret_value()
    raw = json.dumps({"events": [order_placed("c-1")]}).encode()

    def send(signature: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        if signature:
            headers["Nudge-Signature"] = signature
        return httpx.post(f"{ingest_url}/v1/events", content=raw, headers=headers)

    assert send(None).status_code == 401
    stale = send(sign_native(secret, raw, int(time.time()) - 301))
    assert stale.status_code == 401 and "tolerance" in stale.json()["detail"]
    assert send(sign_native("whsec_wrong", raw, int(time.time()))).status_code == 401
    assert send(sign_native(secret, raw, int(time.time()))).status_code == 200
    assert len(shop_events.for_shop(shop.shop_id)) == 1


def test_rate_limit_is_per_shop(stack: Stack, ingest_url: str, shop_events: TopicWindow) -> None:
    slow = add_shop(stack.database_url, rate_limit_per_s=1)
    other = add_shop(stack.database_url)
    burst = {"events": [order_placed(f"c-{i}") for i in range(1000)]}
    assert post(ingest_url, slow.api_key.get_secret_value(), burst).status_code == 200
    limited = post(ingest_url, slow.api_key.get_secret_value(), {"events": [order_placed("c-x")]})
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    unaffected = post(
        ingest_url, other.api_key.get_secret_value(), {"events": [order_placed("c-y")]}
    )
    assert unaffected.status_code == 200
    assert len(shop_events.for_shop(slow.shop_id)) == 1000


def test_probes_metrics_and_openapi(ingest_url: str) -> None:
    assert httpx.get(f"{ingest_url}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{ingest_url}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {
        "kafka": True,
        "credentials": True,
    }
    metrics = httpx.get(f"{ingest_url}/metrics").text
    assert "nudge_ingest_requests_total" in metrics
    assert 'nudge_ingest_events_total{outcome="accepted",type="order.placed"}' in metrics
    document = httpx.get(f"{ingest_url}/openapi.json").json()
    assert "/v1/webhooks/shopify" in document["paths"]
    assert "OrderPlacedEvent" in document["components"]["schemas"]


def _accepted_order_events(base: str) -> float:
    """nudge_ingest_events_total{type="order.placed", outcome="accepted"} from /metrics."""
    page = httpx.get(f"{base}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(page)
        for sample in family.samples
        if sample.name == "nudge_ingest_events_total"
        and sample.labels == {"type": "order.placed", "outcome": "accepted"}
    )


def test_two_workers_accept_events_and_metrics_count_all_of_them(
    stack: Stack, logs_dir: Path, shop_events: TopicWindow
) -> None:
    shop = add_shop(stack.database_url)
    key = shop.api_key.get_secret_value()
    batches = [[order_placed(f"c-{n}-{i}") for i in range(5)] for n in range(24)]
    with running_ingest(
        stack.kafka_bootstrap, stack.database_url, logs_dir / "ingest-2-workers.log", workers="2"
    ) as base:
        # Concurrent requests, each on its own connection, so that both workers take some.
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda events: post(base, key, {"events": events}), batches))
        assert [a.status_code for a in answers] == [200] * len(batches)
        assert all(a.json()["accepted"] == 5 for a in answers)
        # Whichever worker answers a scrape, it reports what every worker accepted.
        assert [_accepted_order_events(base) for _ in range(6)] == [5 * len(batches)] * 6
    assert len(shop_events.for_shop(shop.shop_id)) == 5 * len(batches)
