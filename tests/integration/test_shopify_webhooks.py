"""POST /v1/webhooks/shopify with Shopify's documented sample payloads, end to end."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from services.ingest.access import sign_shopify
from shared.tenancy import ShopCredentials
from tests.support.kafka_records import TopicWindow
from tests.support.shopify import deliver, fixture
from tests.support.shops import add_shop, set_shopify_secret, unique_shop_id
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

EXPECTED_TYPES = {
    "customers/create": ["customer.created"],
    "customers/update": ["customer.updated"],
    # a checkout with a customer also links the cart's anonymous history to them
    "checkouts/create": ["checkout.started", "customer.identified"],
    "checkouts/update": ["checkout.started"],  # the sample is a guest checkout
    "carts/update": ["cart.updated"],
    "orders/create": ["order.placed"],
    "orders/paid": ["order.placed"],
    "orders/cancelled": ["order.cancelled"],
    "refunds/create": ["order.refunded"],
    "fulfillments/create": ["shipment.created"],
    "fulfillment_events/create": ["shipment.status_changed"],  # + delivered, see below
}


@pytest.fixture
def shop(stack: Stack) -> ShopCredentials:
    shop_id = unique_shop_id("shopify")
    return add_shop(stack.database_url, shop_id, shopify_domain=f"{shop_id}.myshopify.com")


@pytest.mark.parametrize("topic", sorted(EXPECTED_TYPES))
def test_signed_webhook_becomes_typed_events(
    stack: Stack, ingest_url: str, shop: ShopCredentials, shop_events: TopicWindow, topic: str
) -> None:
    body = fixture(topic)
    response = deliver(ingest_url, shop, topic, body)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "accepted"

    payload = json.loads(body)
    expected = list(EXPECTED_TYPES[topic])
    if topic == "fulfillment_events/create" and payload["status"] == "delivered":
        expected.append("shipment.delivered")
    records = shop_events.for_shop(shop.shop_id)
    assert sorted(r.value["type"] for r in records) == sorted(expected)
    assert sorted(r.value["id"] for r in records) == sorted(response.json()["event_ids"])
    customer = payload.get("customer") or (payload if topic.startswith("customers/") else None)
    for record in records:
        assert record.value["source"] == f"/shops/{shop.shop_id}/shopify"
        if record.value["type"] == "customer.identified":
            assert record.key == f"{shop.shop_id}:anon:{record.value['anonymousid']}"
            assert record.value["data"]["customer_id"] == str(customer["id"])  # type: ignore[index]
        elif customer:
            assert record.key == f"{shop.shop_id}:{customer['id']}"
            assert record.value["customerid"] == str(customer["id"])
        else:
            assert record.key.startswith(f"{shop.shop_id}:anon:")


@pytest.mark.parametrize("topic", sorted(EXPECTED_TYPES))
def test_bad_signature_is_401_and_publishes_nothing(
    ingest_url: str, shop: ShopCredentials, shop_events: TopicWindow, topic: str
) -> None:
    body = fixture(topic)
    response = deliver(ingest_url, shop, topic, body, secret="whsec_not_the_shops")
    assert response.status_code == 401
    assert response.json()["detail"] == "webhook signature does not match"
    tampered = deliver(ingest_url, shop, topic, body.replace(b"}", b" }", 1), webhook_id="x")
    assert tampered.status_code == 200  # re-signed by us: the HMAC is over the exact bytes
    shop_events.since_start()
    forged = httpx.post(
        f"{ingest_url}/v1/webhooks/shopify",
        content=body + b" ",
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": sign_shopify(shop.webhook_secret.get_secret_value(), body),
            "X-Shopify-Shop-Domain": f"{shop.shop_id}.myshopify.com",
            "X-Shopify-Webhook-Id": "forged",
        },
    )
    assert forged.status_code == 401
    ids = {r.value["id"] for r in shop_events.for_shop(shop.shop_id)}
    assert ids == set(tampered.json()["event_ids"])


def test_delivered_status_also_reports_the_delivery(
    ingest_url: str, shop: ShopCredentials, shop_events: TopicWindow
) -> None:
    payload = json.loads(fixture("fulfillment_events/create"))
    payload["status"] = "delivered"
    response = deliver(ingest_url, shop, "fulfillment_events/create", json.dumps(payload).encode())
    assert response.status_code == 200
    types = sorted(r.value["type"] for r in shop_events.for_shop(shop.shop_id))
    assert types == ["shipment.delivered", "shipment.status_changed"]


def test_refunds_and_shipments_follow_the_order_to_its_customer(
    ingest_url: str, shop: ShopCredentials, shop_events: TopicWindow
) -> None:
    order = json.loads(fixture("orders/create"))
    customer_key = f"{shop.shop_id}:{order['customer']['id']}"
    for topic in ("refunds/create", "fulfillments/create"):
        payload = json.loads(fixture(topic))
        payload["order_id"] = order["id"]
        body = json.dumps(payload).encode()
        before = deliver(ingest_url, shop, topic, body)
        assert before.status_code == 200
    assert deliver(ingest_url, shop, "orders/create", fixture("orders/create")).status_code == 200
    event = json.loads(fixture("fulfillment_events/create"))
    event["order_id"] = order["id"]
    after = deliver(ingest_url, shop, "fulfillment_events/create", json.dumps(event).encode())
    assert after.status_code == 200
    keys = {r.value["type"]: r.key for r in shop_events.for_shop(shop.shop_id)}
    # before the order was seen: the order key; after: the customer's key
    assert keys["order.refunded"] == f"{shop.shop_id}:anon:order:{order['id']}"
    assert keys["shipment.created"] == f"{shop.shop_id}:anon:order:{order['id']}"
    assert keys["order.placed"] == customer_key
    assert keys["shipment.status_changed"] == customer_key


def test_a_stored_shopify_secret_replaces_the_shops_own(
    stack: Stack, ingest_url: str, shop: ShopCredentials
) -> None:
    set_shopify_secret(stack.database_url, shop.shop_id, "shpss_app_client_secret_0123")
    time.sleep(1.5)  # the service's periodic refresh (1 s in tests)
    body = fixture("orders/create")
    own = deliver(ingest_url, shop, "orders/create", body)
    assert own.status_code == 401
    shopify = deliver(
        ingest_url, shop, "orders/create", body, secret="shpss_app_client_secret_0123"
    )
    assert shopify.status_code == 200


def test_redelivery_and_paid_after_create_are_duplicates(
    ingest_url: str, shop: ShopCredentials, shop_events: TopicWindow
) -> None:
    first = deliver(ingest_url, shop, "orders/create", fixture("orders/create"), webhook_id="w-1")
    again = deliver(ingest_url, shop, "orders/create", fixture("orders/create"), webhook_id="w-1")
    paid = deliver(ingest_url, shop, "orders/paid", fixture("orders/create"), webhook_id="w-2")
    assert first.json()["status"] == "accepted"
    assert again.json()["status"] == "duplicate"
    assert paid.json()["status"] == "duplicate"
    assert len(shop_events.for_shop(shop.shop_id)) == 1


def test_unknown_shop_missing_headers_unmapped_topic_and_junk(
    ingest_url: str, shop: ShopCredentials, shop_events: TopicWindow
) -> None:
    body = fixture("orders/create")
    unknown = deliver(ingest_url, shop, "orders/create", body, domain="nobody.myshopify.com")
    assert unknown.status_code == 401 and unknown.json()["detail"] == "unknown shop domain"
    no_hmac = httpx.post(
        f"{ingest_url}/v1/webhooks/shopify",
        content=body,
        headers={"Content-Type": "application/json", "X-Shopify-Topic": "orders/create"},
    )
    assert no_hmac.status_code == 401

    ignored = deliver(ingest_url, shop, "products/update", b'{"id": 1}')
    assert ignored.status_code == 200 and ignored.json()["status"] == "ignored"

    not_json = deliver(ingest_url, shop, "orders/create", b"{oops")
    assert not_json.status_code == 400

    wrong_shape = json.loads(body)
    wrong_shape["line_items"] = "none"
    invalid = deliver(ingest_url, shop, "orders/create", json.dumps(wrong_shape).encode())
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["field"].startswith("line_items")
    assert shop_events.for_shop(shop.shop_id) == []
