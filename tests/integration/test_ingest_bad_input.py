"""Bad input through the real ingest service: each class is refused with a reason naming the
field, never a 500, never failing its neighbours; what is accepted is exactly what is on Kafka.

Each test here failed before the fix of its class (issue 18): a time that overflows in UTC or an
amount with an exponent in the millions answered 500 and failed the whole batch, an event over
the producer's limit answered 500, a NUL character was published, an integer id beyond 64 bits
was refused, and the framework's own errors were not problem+json.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.limits import MAX_EVENT_BYTES
from shared.tenancy import ShopCredentials
from tests.support.ingest_process import running_ingest
from tests.support.kafka_records import TopicWindow
from tests.support.payloads import order_placed
from tests.support.shopify import deliver, fixture
from tests.support.shops import add_shop, unique_shop_id
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

OVERFLOWING_TIMES = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00")
PROBLEM = "application/problem+json"


def post(base: str, path: str, key: str, body: object) -> httpx.Response:
    return httpx.post(
        f"{base}{path}",
        content=body if isinstance(body, bytes) else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        timeout=30,
    )


@pytest.fixture
def shop(stack: Stack) -> ShopCredentials:
    shop_id = unique_shop_id("bad")
    return add_shop(stack.database_url, shop_id, shopify_domain=f"{shop_id}.myshopify.com")


def key_of(shop: ShopCredentials) -> str:
    return shop.api_key.get_secret_value()


def published_ids(window: TopicWindow, shop: ShopCredentials) -> list[str]:
    return sorted(record.value["id"] for record in window.for_shop(shop.shop_id))


@pytest.mark.parametrize("when", OVERFLOWING_TIMES)
def test_one_overflowing_time_in_a_full_batch_is_refused_alone(
    ingest_url: str, shop: ShopCredentials, shop_events: TopicWindow, when: str
) -> None:
    events = [order_placed(f"c-{n}") for n in range(1000)]
    events[500]["time"] = when
    response = post(ingest_url, "/v1/events", key_of(shop), {"events": events})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (999, 1)
    assert body["results"][500]["errors"][0]["field"] == "time"
    assert "out of range" in body["results"][500]["errors"][0]["reason"]
    good = sorted(e["id"] for n, e in enumerate(events) if n != 500)
    assert published_ids(shop_events, shop) == good


def test_overflowing_times_in_segment_and_shopify_are_refused_naming_the_field(
    ingest_url: str, shop: ShopCredentials, shop_events: TopicWindow
) -> None:
    call = {
        "type": "track",
        "event": "Product Viewed",
        "userId": "u-1",
        "messageId": str(uuid.uuid4()),
        "timestamp": OVERFLOWING_TIMES[0],
        "properties": {"product_id": "p-1"},
    }
    segment = post(ingest_url, "/v1/track", key_of(shop), call)
    assert segment.status_code == 422
    assert segment.json()["results"][0]["errors"][0]["field"] == "timestamp"

    order = json.loads(fixture("orders/create"))
    order.update(created_at=OVERFLOWING_TIMES[1], processed_at=OVERFLOWING_TIMES[1])
    webhook = deliver(ingest_url, shop, "orders/create", json.dumps(order).encode())
    assert webhook.status_code == 422
    assert webhook.headers["content-type"] == PROBLEM
    assert webhook.json()["errors"][0]["field"] in ("created_at", "processed_at")

    customer = json.loads(fixture("customers/create"))
    customer.update(created_at=None, updated_at=None)
    header = deliver(
        ingest_url,
        shop,
        "customers/create",
        json.dumps(customer).encode(),
        triggered_at=OVERFLOWING_TIMES[0],
    )
    assert header.status_code == 422
    assert header.json()["errors"][0]["field"] == "X-Shopify-Triggered-At"
    assert published_ids(shop_events, shop) == []


def test_amounts_outside_the_money_range_are_refused_naming_the_field(
    ingest_url: str, shop: ShopCredentials, shop_events: TopicWindow
) -> None:
    good, huge, tiny = order_placed("c-1"), order_placed("c-2"), order_placed("c-3")
    huge["data"]["total"]["amount"] = "1e1000000"
    tiny["data"]["items"][0]["price"]["amount"] = "1e-1000000"
    response = post(ingest_url, "/v1/events", key_of(shop), {"events": [good, huge, tiny]})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected"]
    assert results[1]["errors"][0]["field"] == "data.total.amount"
    assert results[2]["errors"][0]["field"] == "data.items.0.price.amount"

    refund = json.loads(fixture("refunds/create"))
    for transaction in refund["transactions"]:
        transaction.update(kind="refund", status="success", amount="1e1000000")
    webhook = deliver(ingest_url, shop, "refunds/create", json.dumps(refund).encode())
    assert webhook.status_code == 422
    assert webhook.json()["errors"][0]["field"] == "transactions.0.amount"
    assert published_ids(shop_events, shop) == [good["id"]]


def test_nul_characters_are_refused_naming_the_field(
    ingest_url: str, shop: ShopCredentials, shop_events: TopicWindow
) -> None:
    good, in_id, in_text = order_placed("c-1"), order_placed("c-\x002"), order_placed("c-3")
    in_text["data"]["items"][0]["title"] = "Beans\x00"
    response = post(ingest_url, "/v1/events", key_of(shop), {"events": [good, in_id, in_text]})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected"]
    assert results[1]["errors"][0]["field"] == "customerid"
    assert results[2]["errors"][0]["field"] == "data.items.0.title"
    assert "NUL" in results[1]["errors"][0]["reason"]

    calls = [
        {
            "type": "identify",
            "userId": "u\x00",
            "messageId": "m-1",
            "timestamp": "2026-01-01T00:00:00Z",
        },
        {
            "type": "identify",
            "userId": "u-2",
            "messageId": "m-2",
            "timestamp": "2026-01-01T00:00:00Z",
        },
    ]
    batch = post(ingest_url, "/v1/batch", key_of(shop), {"batch": calls})
    assert [r["status"] for r in batch.json()["results"]] == ["rejected", "accepted"]
    assert batch.json()["results"][0]["errors"][0]["field"] == "userId"

    customer = json.loads(fixture("customers/create"))
    customer["first_name"] = "Ada\x00"
    webhook = deliver(ingest_url, shop, "customers/create", json.dumps(customer).encode())
    assert webhook.status_code == 422
    assert webhook.json()["errors"][0]["field"] == "first_name"

    published = shop_events.for_shop(shop.shop_id)
    assert sorted(r.value["id"] for r in published if r.value["type"] == "order.placed") == [
        good["id"]
    ]
    assert all("\\u0000" not in json.dumps(r.value) for r in published)


def test_integer_ids_beyond_64_bits_are_kept_exact(
    ingest_url: str, shop: ShopCredentials, shop_events: TopicWindow
) -> None:
    event = order_placed("placeholder")
    raw = json.dumps({"events": [event]}).replace('"placeholder"', str(2**64 + 7)).encode()
    response = post(ingest_url, "/v1/events", key_of(shop), raw)
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1
    [record] = shop_events.for_shop(shop.shop_id)
    assert record.value["customerid"] == str(2**64 + 7)
    assert record.key == f"{shop.shop_id}:{2**64 + 7}"


@pytest.fixture(scope="module")
def roomy_ingest(stack: Stack, logs_dir: Path) -> Iterator[str]:
    """An ingest whose body limit (3 MiB) lets one event exceed the size of one record."""
    with running_ingest(
        stack.kafka_bootstrap,
        stack.database_url,
        logs_dir / "ingest-roomy.log",
        max_body_bytes=str(3 * 1024 * 1024),
    ) as base:
        yield base


def _huge_order(customer: str) -> dict[str, Any]:
    event = order_placed(customer)
    line = event["data"]["items"][0]
    event["data"]["items"] = [
        {
            **line,
            "product_id": f"p-{n}",
            "title": "t" * 500,
            "url": "https://x.example/" + "p" * 1500,
        }
        for n in range(1000)
    ]
    return event


def test_an_event_over_the_record_limit_is_refused_saying_so(
    roomy_ingest: str, shop: ShopCredentials, shop_events: TopicWindow
) -> None:
    good, huge = order_placed("c-1"), _huge_order("c-2")
    assert len(json.dumps(huge)) > MAX_EVENT_BYTES
    response = post(roomy_ingest, "/v1/events", key_of(shop), {"events": [good, huge]})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected"]
    assert f"at most {MAX_EVENT_BYTES} bytes" in results[1]["errors"][0]["reason"]

    alone = post(roomy_ingest, "/v1/events", key_of(shop), {"events": [_huge_order("c-3")]})
    assert alone.status_code == 422

    order = json.loads(fixture("orders/create"))
    order["line_items"] = [
        {
            "id": n,
            "product_id": n,
            "variant_id": n,
            "title": "t" * 500,
            "sku": "s" * 255,
            "vendor": "v" * 255,
            "product_type": "c" * 255,
            "price": "1.00",
            "quantity": 1,
        }
        for n in range(1000)
    ]
    body = json.dumps(order).encode()
    assert MAX_EVENT_BYTES < len(body) < 3 * 1024 * 1024
    webhook = deliver(roomy_ingest, shop, "orders/create", body)
    assert webhook.status_code == 413, webhook.text
    assert webhook.headers["content-type"] == PROBLEM
    assert published_ids(shop_events, shop) == [good["id"]]


def test_the_frameworks_own_errors_are_problems(ingest_url: str) -> None:
    missing = httpx.get(f"{ingest_url}/v1/nothing-here", timeout=10)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    assert missing.json()["status"] == 404

    wrong_method = httpx.get(f"{ingest_url}/v1/events", timeout=10)
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == PROBLEM
    assert wrong_method.headers["allow"] == "POST"

    host, port = ingest_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        answer = _read_all(conn)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert f"content-type: {PROBLEM}".encode() in head.lower()
    assert json.loads(body)["status"] == 400


def _read_all(conn: socket.socket) -> bytes:
    chunks = []
    while chunk := conn.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)
