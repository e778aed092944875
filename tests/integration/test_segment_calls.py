"""Segment-spec calls (/v1/track, /v1/identify, /v1/batch) end to end."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.tenancy import ShopCredentials
from tests.support.kafka_records import TopicWindow
from tests.support.shops import add_shop
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "segment"


def call(name: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    data["messageId"] = str(uuid.uuid4())
    data.update(changes)
    return data


def basic(shop: ShopCredentials) -> dict[str, str]:
    """Segment's libraries send the write key as the Basic user name, no password."""
    token = base64.b64encode(f"{shop.api_key.get_secret_value()}:".encode()).decode()
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def shop(stack: Stack) -> ShopCredentials:
    return add_shop(stack.database_url)


def test_track_and_identify(
    ingest_url: str, shop: ShopCredentials, shop_events: TopicWindow
) -> None:
    viewed = call("product_viewed")
    identify = call("identify")
    r1 = httpx.post(f"{ingest_url}/v1/track", json=viewed, headers=basic(shop))
    r2 = httpx.post(f"{ingest_url}/v1/identify", json=identify, headers=basic(shop))
    assert r1.status_code == 200 and r1.json()["accepted"] == 1
    assert r2.status_code == 200 and r2.json()["accepted"] == 1

    records = shop_events.for_shop(shop.shop_id)
    types = {r.value["type"]: r for r in records}
    assert set(types) == {"product.viewed", "customer.updated", "customer.identified"}
    linked = types["customer.identified"]
    assert linked.key == f"{shop.shop_id}:anon:{identify['anonymousId']}"
    assert linked.value["data"] == {
        "anonymous_id": identify["anonymousId"],
        "customer_id": identify["userId"],
    }
    updated = types["customer.updated"]
    assert updated.key == f"{shop.shop_id}:{identify['userId']}"
    assert updated.value["data"]["email"] == "peter@example.com"
    assert updated.value["data"]["time_zone"] == "America/New_York"


def test_batch_mixes_mapped_ignored_and_invalid_calls(
    ingest_url: str, shop: ShopCredentials, shop_events: TopicWindow
) -> None:
    completed = call("order_completed")
    page = {"type": "page", "messageId": str(uuid.uuid4()), "anonymousId": "a-1", "name": "Home"}
    no_ids = call("product_added")
    no_ids.pop("userId", None)
    no_ids.pop("anonymousId", None)
    response = httpx.post(
        f"{ingest_url}/v1/batch",
        json={"batch": [completed, call("cart_viewed"), page, no_ids]},
        headers=basic(shop),
    )
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "ignored", "ignored", "rejected"]
    assert results[3]["errors"][0]["field"] in {"userId", "anonymousId"}
    records = shop_events.for_shop(shop.shop_id)
    assert [r.value["type"] for r in records] == ["order.placed"]
    again = httpx.post(f"{ingest_url}/v1/batch", json={"batch": [completed]}, headers=basic(shop))
    assert again.json()["results"][0]["status"] == "duplicate"
    assert len(shop_events.for_shop(shop.shop_id)) == 1


def test_segment_auth_and_bodies(ingest_url: str, shop: ShopCredentials) -> None:
    viewed = call("product_viewed")
    assert httpx.post(f"{ingest_url}/v1/track", json=viewed).status_code == 401
    bad = {"Authorization": "Basic " + base64.b64encode(b"nk_wrong:").decode()}
    assert httpx.post(f"{ingest_url}/v1/track", json=viewed, headers=bad).status_code == 401
    empty = httpx.post(f"{ingest_url}/v1/batch", json={"batch": []}, headers=basic(shop))
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "batch"
    no_time = call("product_viewed")
    for key in ("timestamp", "originalTimestamp", "sentAt", "receivedAt"):
        no_time.pop(key, None)
    refused = httpx.post(f"{ingest_url}/v1/track", json=no_time, headers=basic(shop))
    assert refused.status_code == 422
    assert refused.json()["results"][0]["errors"][0]["field"] == "timestamp"
