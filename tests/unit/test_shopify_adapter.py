"""Shopify webhooks → shop events: one fixture per topic, modelled on Shopify's samples."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.ingest.adapters import (
    SUPPORTED_TOPICS,
    MappingError,
    UnsupportedTopic,
    map_shopify_webhook,
)
from shared.events import ShopEvent, derived_event_id, dump_shop_event, parse_shop_event
from shared.events.catalog import (
    CartUpdatedEvent,
    CheckoutStartedEvent,
    CustomerCreatedEvent,
    CustomerIdentifiedEvent,
    CustomerUpdatedEvent,
    OrderCancelledEvent,
    OrderPlacedEvent,
    OrderRefundedEvent,
    ShipmentCreatedEvent,
    ShipmentDeliveredEvent,
    ShipmentStatusChangedEvent,
)
from shared.events.shop import ConsentStatus, ShipmentStatus
from shared.events.types import Money
from tests.support.json_mutation import DELETE, JUNK, json_paths, patched

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shopify"
SHOP = "acme"
WEBHOOK_ID = "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
OTHER_WEBHOOK_ID = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
TRIGGERED_AT = datetime(2022, 6, 1, 12, 0, tzinfo=UTC)

CUSTOMER = "706405506930370084"
BUYER = "603851970716743426"
ORDER = "820982911946154508"
CART = "eeafa272cebfd4b22385bc4b645e762c"
FULFILLMENT = "4946218373167"


def load(topic: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{topic.replace('/', '_')}.json").read_text())
    return data


def run(
    topic: str,
    payload: Any = None,
    *,
    webhook_id: str = WEBHOOK_ID,
    triggered_at: datetime | None = TRIGGERED_AT,
    shop_id: str = SHOP,
) -> list[ShopEvent]:
    return map_shopify_webhook(
        shop_id=shop_id,
        topic=topic,
        payload=load(topic) if payload is None else payload,
        webhook_id=webhook_id,
        triggered_at=triggered_at,
        shop_domain="acme.myshopify.com",
    )


def one(topic: str, payload: Any = None, **kwargs: Any) -> ShopEvent:
    events = run(topic, payload, **kwargs)
    assert len(events) == 1, events
    return events[0]


def entity_id(entity: str, entity_id: str, event_type: str) -> str:
    return derived_event_id(SHOP, "shopify", f"{entity}/{entity_id}/{event_type}")


def delivery_id(event_type: str, webhook_id: str = WEBHOOK_ID) -> str:
    return derived_event_id(SHOP, "shopify", f"webhook/{webhook_id}/{event_type}")


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_supported_topics_are_the_mapped_ones() -> None:
    assert (
        frozenset(
            {
                "customers/create",
                "customers/update",
                "checkouts/create",
                "checkouts/update",
                "carts/update",
                "orders/create",
                "orders/paid",
                "orders/cancelled",
                "refunds/create",
                "fulfillments/create",
                "fulfillment_events/create",
            }
        )
        == SUPPORTED_TOPICS
    )


@pytest.mark.parametrize("topic", sorted(SUPPORTED_TOPICS))
def test_every_event_survives_the_wire(topic: str) -> None:
    for event in run(topic):
        assert parse_shop_event(dump_shop_event(event)) == event
        assert event.source == "/shops/acme/shopify"
        assert event.shopid == SHOP


# --- customers -------------------------------------------------------------------------------


def test_customer_created() -> None:
    event = one("customers/create")
    assert isinstance(event, CustomerCreatedEvent)
    assert event.type == "customer.created"
    assert event.id == delivery_id("customer.created")
    assert event.key == f"acme:{CUSTOMER}"
    assert (event.customerid, event.anonymousid) == (CUSTOMER, None)
    assert event.time == at("2021-12-31T19:00:00-05:00")
    data = event.data
    assert data.email == "bob@biller.com"
    assert data.phone == "+16135550123"
    assert (data.first_name, data.last_name) == ("Bob", "Biller")
    assert data.tags == ["newsletter", "vip"]
    assert data.consent.email is not None and data.consent.sms is not None
    assert data.consent.email.status is ConsentStatus.GRANTED
    assert data.consent.email.source == "shopify"
    assert data.consent.email.recorded_at == at("2021-12-31T18:59:30-05:00")
    # not_subscribed, with no consent time: the customer record's updated_at dates it.
    assert data.consent.sms.status is ConsentStatus.DENIED
    assert data.consent.sms.recorded_at == at("2021-12-31T19:00:00-05:00")


def test_customer_updated() -> None:
    event = one("customers/update")
    assert isinstance(event, CustomerUpdatedEvent)
    assert event.type == "customer.updated"
    assert event.id == delivery_id("customer.updated")
    assert event.key == f"acme:{CUSTOMER}"
    assert event.time == at("2022-03-04T10:15:42-05:00")
    assert event.data.email == "bob.biller@example.com"
    assert event.data.tags == []
    assert event.data.consent.email is not None and event.data.consent.sms is not None
    assert event.data.consent.email.status is ConsentStatus.DENIED
    assert event.data.consent.email.recorded_at == at("2022-03-04T10:15:40-05:00")
    assert event.data.consent.sms.status is ConsentStatus.GRANTED
    assert event.data.consent.sms.recorded_at == at("2022-03-04T10:15:42-05:00")


def test_each_customer_update_delivery_is_a_new_fact_and_retries_are_not() -> None:
    first = one("customers/update", webhook_id=WEBHOOK_ID)
    retried = one("customers/update", webhook_id=WEBHOOK_ID)
    second = one("customers/update", webhook_id=OTHER_WEBHOOK_ID)
    assert first.id == retried.id
    assert first.id != second.id
    assert second.id == delivery_id("customer.updated", OTHER_WEBHOOK_ID)


def test_event_ids_are_per_shop() -> None:
    assert one("customers/update").id != one("customers/update", shop_id="other-shop").id
    assert one("orders/create").id != one("orders/create", shop_id="other-shop").id


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("subscribed", ConsentStatus.GRANTED),
        ("SUBSCRIBED", ConsentStatus.GRANTED),
        ("unsubscribed", ConsentStatus.DENIED),
        ("not_subscribed", ConsentStatus.DENIED),
        ("pending", None),
        ("redacted", None),
        ("invalid", None),
        ("some_future_state", None),
    ],
)
def test_consent_states(state: str, expected: ConsentStatus | None) -> None:
    payload = patched(load("customers/create"), {"email_marketing_consent.state": state})
    event = one("customers/create", payload)
    assert isinstance(event, CustomerCreatedEvent)
    email = event.data.consent.email
    assert (email.status if email is not None else None) is expected


def test_missing_consent_objects_mean_no_consent_recorded() -> None:
    payload = patched(
        load("customers/create"), {"email_marketing_consent": None, "sms_marketing_consent": DELETE}
    )
    event = one("customers/create", payload)
    assert isinstance(event, CustomerCreatedEvent)
    assert event.data.consent.email is None and event.data.consent.sms is None


def test_times_fall_back_to_the_trigger_header() -> None:
    payload = patched(
        load("customers/create"),
        {
            "created_at": None,
            "updated_at": DELETE,
            "email_marketing_consent.consent_updated_at": None,
        },
    )
    event = one("customers/create", payload)
    assert isinstance(event, CustomerCreatedEvent)
    assert event.time == TRIGGERED_AT
    assert event.data.consent.email is not None
    assert event.data.consent.email.recorded_at == TRIGGERED_AT


def test_no_time_at_all_is_refused() -> None:
    payload = patched(load("customers/create"), {"created_at": None, "updated_at": None})
    with pytest.raises(MappingError) as raised:
        run("customers/create", payload, triggered_at=None)
    assert raised.value.field == "created_at"


@pytest.mark.parametrize("phone", ["555-555-BILL", "+1 000", "12", "not a phone"])
def test_an_invalid_phone_is_dropped_not_fatal(phone: str) -> None:
    event = one("customers/create", patched(load("customers/create"), {"phone": phone}))
    assert isinstance(event, CustomerCreatedEvent)
    assert event.data.phone is None
    assert event.data.email == "bob@biller.com"


def test_a_phone_is_normalised_to_e164() -> None:
    payload = patched(load("customers/create"), {"phone": "+1 (613) 555-0199"})
    event = one("customers/create", payload)
    assert isinstance(event, CustomerCreatedEvent)
    assert event.data.phone == "+16135550199"


@pytest.mark.parametrize("email", ["bob@", "not an email", "bob@@biller.com"])
def test_an_invalid_email_is_refused_naming_the_field(email: str) -> None:
    with pytest.raises(MappingError) as raised:
        run("customers/create", patched(load("customers/create"), {"email": email}))
    assert raised.value.field == "email"
    assert "email" in raised.value.reason


def test_a_blank_email_means_unknown() -> None:
    event = one("customers/create", patched(load("customers/create"), {"email": ""}))
    assert isinstance(event, CustomerCreatedEvent)
    assert event.data.email is None


# --- carts and checkouts ---------------------------------------------------------------------


def test_cart_updated_is_keyed_by_the_cart_token() -> None:
    event = one("carts/update")
    assert isinstance(event, CartUpdatedEvent)
    assert event.type == "cart.updated"
    assert event.id == delivery_id("cart.updated")
    assert (event.customerid, event.anonymousid) == (None, CART)
    assert event.key == f"acme:anon:{CART}"
    assert event.time == at("2022-01-01T00:00:00+00:00")
    data = event.data
    assert data.cart_id == CART
    assert data.recovery_url is None
    assert data.value == usd("79.96")
    assert [(item.variant_id, item.quantity) for item in data.items] == [
        ("704912205188288575", 3),
        ("757650484644203962", 1),
    ]
    first = data.items[0]
    assert first.product_id == "788032119674292922"
    assert (first.sku, first.title, first.brand) == (
        "example-shirt-s",
        "Example T-Shirt - Small",
        "Acme",
    )
    assert first.price == usd("19.99")
    assert isinstance(first.price.amount, Decimal)


def test_each_cart_update_is_a_new_fact() -> None:
    assert one("carts/update").id != one("carts/update", webhook_id=OTHER_WEBHOOK_ID).id


def test_an_emptied_cart_is_worth_nothing() -> None:
    event = one("carts/update", patched(load("carts/update"), {"line_items": []}))
    assert isinstance(event, CartUpdatedEvent)
    assert event.data.items == []
    assert event.data.value.amount == 0


def test_cart_lines_in_several_currencies_are_refused() -> None:
    payload = patched(
        load("carts/update"),
        {"line_items.1.line_price_set.presentment_money.currency_code": "EUR"},
    )
    with pytest.raises(MappingError) as raised:
        run("carts/update", payload)
    assert raised.value.field == "line_items.1.line_price_set"


def test_checkout_with_a_customer() -> None:
    started, identified = run("checkouts/create")
    assert isinstance(started, CheckoutStartedEvent)
    assert started.type == "checkout.started"
    assert started.id == delivery_id("checkout.started")
    assert started.key == f"acme:{BUYER}"
    assert (started.customerid, started.anonymousid) == (BUYER, None)
    assert started.time == at("2021-12-31T19:00:05-05:00")
    data = started.data
    assert (data.checkout_id, data.cart_id) == ("123123123", CART)
    assert data.value == usd("421.88")
    assert data.recovery_url == (
        "https://checkout.local/548380009/checkouts/123123123/recover?key=example-secret-token"
    )
    assert [item.variant_id for item in data.items] == ["642667041472713922", "757650484644203962"]
    assert {(item.category, item.brand) for item in data.items} == {("Shirts", "Acme")}
    assert data.items[0].price == usd("199.00")

    # The guest cart's history (keyed by the cart token) can now be joined to the customer.
    assert isinstance(identified, CustomerIdentifiedEvent)
    assert identified.type == "customer.identified"
    assert (identified.customerid, identified.anonymousid) == (None, CART)
    assert identified.key == f"acme:anon:{CART}"
    assert (identified.data.anonymous_id, identified.data.customer_id) == (CART, BUYER)
    assert identified.id == entity_id("carts", CART, f"customer.identified/{BUYER}")


def test_every_checkout_delivery_is_new_but_the_identification_is_one_fact() -> None:
    first = run("checkouts/create", webhook_id=WEBHOOK_ID)
    second = run("checkouts/update", load("checkouts/create"), webhook_id=OTHER_WEBHOOK_ID)
    assert first[0].id != second[0].id
    assert first[1].id == second[1].id


def test_guest_checkout_is_keyed_by_the_cart_token_and_priced_in_the_buyers_currency() -> None:
    event = one("checkouts/update")
    assert isinstance(event, CheckoutStartedEvent)
    assert (event.customerid, event.anonymousid) == (None, "c1-830e691d16f1093cfcde75960320d9cd")
    assert event.key == "acme:anon:c1-830e691d16f1093cfcde75960320d9cd"
    assert event.data.checkout_id == "4b7e1e0cf4e04b4c9e3c2a1f6d8b9a07"
    # Checkout amounts are in presentment_currency (CAD), not the shop's USD.
    assert event.data.value == Money(amount=Decimal("449.74"), currency="CAD")
    assert event.data.items[0].price == Money(amount=Decimal("199.00"), currency="CAD")
    assert event.data.items[0].quantity == 2


def test_guest_checkout_without_cart_token_is_keyed_by_its_token() -> None:
    payload = patched(load("checkouts/update"), {"cart_token": None})
    event = one("checkouts/update", payload)
    assert event.key == "acme:anon:4b7e1e0cf4e04b4c9e3c2a1f6d8b9a07"


def test_an_invalid_recovery_link_is_dropped() -> None:
    payload = patched(load("checkouts/update"), {"abandoned_checkout_url": "checkout.local/x"})
    event = one("checkouts/update", payload)
    assert isinstance(event, CheckoutStartedEvent)
    assert event.data.recovery_url is None


# --- orders ----------------------------------------------------------------------------------


def test_order_placed() -> None:
    event = one("orders/create")
    assert isinstance(event, OrderPlacedEvent)
    assert event.type == "order.placed"
    assert event.id == entity_id("orders", ORDER, "order.placed")
    assert event.key == f"acme:{BUYER}"
    assert event.time == at("2022-01-01T09:00:03-05:00")  # processed_at
    data = event.data
    assert data.order_id == ORDER
    assert data.order_number == "#1001"
    assert data.checkout_id == "123123123"  # the checkout token, as checkout.started uses
    assert (data.subtotal, data.discounts, data.shipping, data.tax, data.total) == (
        usd("264.97"),
        usd("5.00"),
        usd("10.00"),
        usd("0.00"),
        usd("274.97"),
    )
    assert data.discount_codes == ["SUMMER5"]
    assert data.status_url is not None and data.status_url.startswith("https://checkout.local/")
    # The custom line ("Lens Protection Plan") refers to no product and is left out.
    assert [item.title for item in data.items] == ["Aviator sunglasses", "Mid-century lounger"]
    lounger = data.items[1]
    assert (lounger.product_id, lounger.variant_id, lounger.sku) == (
        "903612483611234567",
        "757650484644203962",
        "SKU2006-020",
    )
    assert (lounger.category, lounger.brand, lounger.quantity) == ("Furniture", "Loungeworks", 1)
    assert lounger.price == usd("159.99")


def test_orders_create_and_orders_paid_report_one_fact() -> None:
    created = one("orders/create", webhook_id=WEBHOOK_ID)
    paid = one("orders/paid", webhook_id=OTHER_WEBHOOK_ID)
    assert created.id == paid.id == entity_id("orders", ORDER, "order.placed")
    assert created.key == paid.key
    assert created.time == paid.time


def test_order_prices_prefer_the_buyers_currency() -> None:
    payload = load("orders/create")
    payload["presentment_currency"] = "EUR"

    def to_eur(value: Any) -> None:
        if isinstance(value, dict):
            if "presentment_money" in value:
                value["presentment_money"]["currency_code"] = "EUR"
                value["presentment_money"]["amount"] = str(
                    Decimal(value["presentment_money"]["amount"]) * 2
                )
            for child in value.values():
                to_eur(child)
        elif isinstance(value, list):
            for child in value:
                to_eur(child)

    to_eur(payload)
    event = one("orders/create", payload)
    assert isinstance(event, OrderPlacedEvent)
    assert event.data.total == Money(amount=Decimal("549.94"), currency="EUR")
    assert event.data.items[0].price == Money(amount=Decimal("179.98"), currency="EUR")


def test_order_without_money_sets_uses_the_plain_amounts_in_the_shops_currency() -> None:
    payload = load("orders/create")

    def strip_sets(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip_sets(v) for k, v in value.items() if not k.endswith("_set")}
        if isinstance(value, list):
            return [strip_sets(v) for v in value]
        return value

    event = one("orders/create", strip_sets(payload))
    assert isinstance(event, OrderPlacedEvent)
    assert event.data.total == usd("274.97")
    assert event.data.shipping is None  # only ever sent as total_shipping_price_set
    assert event.data.items[0].price == usd("89.99")


def test_guest_order_is_keyed_like_the_guest_checkout() -> None:
    payload = patched(load("orders/create"), {"customer": None})
    event = one("orders/create", payload)
    assert (event.customerid, event.anonymousid) == (None, CART)


def test_guest_order_without_tokens_is_keyed_by_the_order() -> None:
    payload = patched(
        load("orders/create"), {"customer": None, "cart_token": None, "checkout_token": None}
    )
    assert one("orders/create", payload).key == f"acme:anon:order:{ORDER}"


def test_an_order_of_custom_lines_only_is_refused() -> None:
    payload = load("orders/create")
    for line in payload["line_items"]:
        line["product_id"] = None
    with pytest.raises(MappingError) as raised:
        run("orders/create", payload)
    assert raised.value.field == "line_items"


def test_entity_events_do_not_need_the_webhook_id() -> None:
    assert one("orders/create", webhook_id="").id == entity_id("orders", ORDER, "order.placed")


def test_delivery_events_do_need_the_webhook_id() -> None:
    with pytest.raises(MappingError) as raised:
        run("customers/update", webhook_id="  ")
    assert raised.value.field == "X-Shopify-Webhook-Id"


def test_order_cancelled() -> None:
    event = one("orders/cancelled")
    assert isinstance(event, OrderCancelledEvent)
    assert event.type == "order.cancelled"
    assert event.id == entity_id("orders", ORDER, "order.cancelled")
    assert event.id != one("orders/create").id
    assert event.key == f"acme:{BUYER}"
    assert event.time == at("2022-01-02T11:30:00-05:00")
    assert (event.data.order_id, event.data.reason) == (ORDER, "customer")
    assert one("orders/cancelled", webhook_id=OTHER_WEBHOOK_ID).id == event.id


def test_order_refunded() -> None:
    event = one("refunds/create")
    assert isinstance(event, OrderRefundedEvent)
    assert event.type == "order.refunded"
    assert event.id == entity_id("refunds", "890088186047892319", "order.refunded")
    # A refund payload names no customer, only the order.
    assert (event.customerid, event.anonymousid) == (None, f"order:{ORDER}")
    assert event.key == f"acme:anon:order:{ORDER}"
    assert event.time == at("2022-01-05T14:02:09-05:00")
    data = event.data
    assert (data.order_id, data.refund_id, data.reason) == (
        ORDER,
        "890088186047892319",
        "Things were damaged",
    )
    # Successful refund transactions only (the failed one is not money back); their currency
    # is null in Shopify's sample, so it comes from the refunded lines' presentment money.
    assert data.amount == usd("109.98")
    assert [(item.product_id, item.quantity) for item in data.items] == [("788032119674292922", 1)]
    assert data.items[0].price == usd("89.99")


def test_refund_currency_comes_from_its_transactions_when_given() -> None:
    payload = patched(
        load("refunds/create"), {"transactions.1.currency": "CAD", "transactions.2.currency": "CAD"}
    )
    event = one("refunds/create", payload)
    assert isinstance(event, OrderRefundedEvent)
    assert event.data.amount == Money(amount=Decimal("109.98"), currency="CAD")


def test_refund_without_any_currency_is_refused() -> None:
    payload = patched(load("refunds/create"), {"refund_line_items": [], "total_duties_set": None})
    with pytest.raises(MappingError) as raised:
        run("refunds/create", payload)
    assert raised.value.field == "transactions"


# --- shipments -------------------------------------------------------------------------------


def test_shipment_created() -> None:
    event = one("fulfillments/create")
    assert isinstance(event, ShipmentCreatedEvent)
    assert event.type == "shipment.created"
    assert event.id == entity_id("fulfillments", FULFILLMENT, "shipment.created")
    assert event.id == one("fulfillments/create", webhook_id=OTHER_WEBHOOK_ID).id
    assert event.key == f"acme:anon:order:{ORDER}"
    assert event.time == at("2022-01-03T08:12:44-05:00")
    data = event.data
    assert (data.order_id, data.shipment_id, data.carrier) == (ORDER, FULFILLMENT, "UPS")
    assert data.tracking_number == "1Z2345E60300012345"
    assert data.tracking_url == (
        "https://www.ups.com/WebTracking?loc=en_US&requester=ST&trackNums=1Z2345E60300012345"
    )
    assert [item.sku for item in data.items] == ["SKU2006-001", "SKU2006-020"]


def test_tracking_falls_back_to_the_plural_fields_and_bad_links_are_dropped() -> None:
    payload = patched(
        load("fulfillments/create"),
        {
            "tracking_number": None,
            "tracking_numbers": ["", "1ZSECOND"],
            "tracking_url": None,
            "tracking_urls": ["ups.com/track?1ZSECOND"],
        },
    )
    event = one("fulfillments/create", payload)
    assert isinstance(event, ShipmentCreatedEvent)
    assert event.data.tracking_number == "1ZSECOND"
    assert event.data.tracking_url is None


def test_shipment_status_changed() -> None:
    event = one("fulfillment_events/create")
    assert isinstance(event, ShipmentStatusChangedEvent)
    assert event.type == "shipment.status_changed"
    assert event.id == entity_id("fulfillment_events", "25853771317295", "shipment.status_changed")
    assert event.key == f"acme:anon:order:{ORDER}"
    assert event.time == at("2022-01-04T06:41:00-05:00")  # happened_at
    data = event.data
    assert (data.order_id, data.shipment_id) == (ORDER, FULFILLMENT)
    assert data.status is ShipmentStatus.IN_TRANSIT
    assert data.message == "Departed from facility: Louisville, KY"
    assert data.estimated_delivery_at == at("2022-01-06T17:00:00-05:00")


def test_delivered_also_reports_shipment_delivered_once_per_fulfillment() -> None:
    delivered = patched(load("fulfillment_events/create"), {"status": "delivered"})
    changed, arrived = run("fulfillment_events/create", delivered)
    assert isinstance(changed, ShipmentStatusChangedEvent)
    assert changed.data.status is ShipmentStatus.DELIVERED
    assert isinstance(arrived, ShipmentDeliveredEvent)
    assert arrived.type == "shipment.delivered"
    assert arrived.id == entity_id("fulfillments", FULFILLMENT, "shipment.delivered")
    assert (arrived.data.order_id, arrived.data.shipment_id) == (ORDER, FULFILLMENT)
    assert arrived.key == changed.key
    assert arrived.time == changed.time

    # The carrier reports delivery a second time: a new status change, the same delivery.
    again = patched(delivered, {"id": 25853771317296})
    changed_again, arrived_again = run("fulfillment_events/create", again)
    assert changed_again.id != changed.id
    assert arrived_again.id == arrived.id


# --- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize("topic", ["products/update", "orders/delete", "app/uninstalled", ""])
def test_unsupported_topic(topic: str) -> None:
    with pytest.raises(UnsupportedTopic) as raised:
        run(topic, {"id": 1})
    assert raised.value.field == "X-Shopify-Topic"
    assert isinstance(raised.value, MappingError)


def test_an_invalid_shop_id_is_refused() -> None:
    with pytest.raises(MappingError) as raised:
        run("orders/create", shop_id="Not A Slug!")
    assert raised.value.field == "shop_id"


@pytest.mark.parametrize("payload", [[], "order", 42, None, True])
def test_a_payload_that_is_not_an_object_is_refused(payload: Any) -> None:
    with pytest.raises(MappingError) as raised:
        map_shopify_webhook(
            shop_id=SHOP,
            topic="orders/create",
            payload=payload,
            webhook_id=WEBHOOK_ID,
            triggered_at=TRIGGERED_AT,
            shop_domain="acme.myshopify.com",
        )
    assert raised.value.field == "$"


JUNK_CASES: list[tuple[str, dict[str, object], str]] = [
    ("customers/create", {"id": {"id": 1}}, "id"),
    ("customers/create", {"id": None}, "id"),
    ("customers/create", {"id": True}, "id"),
    ("customers/create", {"id": DELETE}, "id"),
    ("customers/create", {"email": 42}, "email"),
    ("customers/create", {"first_name": "x" * 101}, "first_name"),
    ("customers/create", {"tags": ["vip"]}, "tags"),
    ("customers/create", {"created_at": 1640995200}, "created_at"),
    ("customers/create", {"created_at": "2021-12-31T19:00:00"}, "created_at"),
    ("customers/create", {"created_at": "last tuesday"}, "created_at"),
    ("customers/create", {"email_marketing_consent": "subscribed"}, "email_marketing_consent"),
    ("customers/create", {"sms_marketing_consent.state": 1}, "sms_marketing_consent.state"),
    (
        "customers/create",
        {"email_marketing_consent.consent_updated_at": "yesterday"},
        "email_marketing_consent.consent_updated_at",
    ),
    ("customers/update", {"phone": {"number": "+16135550188"}}, "phone"),
    ("carts/update", {"token": None, "id": None}, "token"),
    ("carts/update", {"line_items": {"0": {}}}, "line_items"),
    ("carts/update", {"line_items.0.line_price_set": "59.97"}, "line_items.0.line_price_set"),
    (
        "carts/update",
        {"line_items.0.line_price_set.presentment_money.currency_code": "usd"},
        "line_items.0.line_price_set.presentment_money.currency_code",
    ),
    ("checkouts/create", {"line_items": "two shirts"}, "line_items"),
    ("checkouts/create", {"line_items.0": "shirt"}, "line_items.0"),
    ("checkouts/create", {"line_items.0.price": "cheap"}, "line_items.0.price"),
    ("checkouts/create", {"line_items.0.price": "19.9999999"}, "line_items.0.price"),
    ("checkouts/create", {"line_items.0.quantity": 0}, "line_items.0.quantity"),
    ("checkouts/create", {"line_items.0.quantity": "many"}, "line_items.0.quantity"),
    ("checkouts/create", {"line_items.0.product_id": []}, "line_items.0.product_id"),
    ("checkouts/create", {"line_items.0.sku": 17}, "line_items.0.sku"),
    ("checkouts/create", {"total_price": None}, "total_price"),
    ("checkouts/create", {"total_price": "Infinity"}, "total_price"),
    ("checkouts/create", {"presentment_currency": "dollars"}, "presentment_currency"),
    (
        "checkouts/create",
        {"presentment_currency": None, "currency": None},
        "presentment_currency",
    ),
    ("checkouts/create", {"customer": "john"}, "customer"),
    ("checkouts/create", {"customer.id": {}}, "customer.id"),
    ("checkouts/update", {"cart_token": None, "token": None}, "customer"),
    ("orders/create", {"total_price_set": "274.97"}, "total_price_set"),
    (
        "orders/create",
        {"total_price_set.presentment_money.amount": "1e400"},
        "total_price_set.presentment_money.amount",
    ),
    (
        "orders/create",
        {"total_price_set.presentment_money.amount": "NaN"},
        "total_price_set.presentment_money.amount",
    ),
    (
        "orders/create",
        {"subtotal_price_set.presentment_money.currency_code": "EUR"},
        "total_price_set",
    ),
    ("orders/create", {"discount_codes.0.code": 5}, "discount_codes.0.code"),
    ("orders/create", {"discount_codes.0": "SUMMER5"}, "discount_codes.0"),
    ("orders/create", {"name": "#" + "9" * 70}, "name"),
    ("orders/create", {"processed_at": ["2022"]}, "processed_at"),
    ("orders/create", {"line_items.1.vendor": "v" * 256}, "line_items.1.vendor"),
    ("orders/cancelled", {"cancelled_at": "not a date"}, "cancelled_at"),
    ("orders/cancelled", {"cancel_reason": False}, "cancel_reason"),
    ("refunds/create", {"transactions.1.amount": "lots"}, "transactions.1.amount"),
    ("refunds/create", {"transactions.1.kind": 3}, "transactions.1.kind"),
    ("refunds/create", {"order_id": None}, "order_id"),
    ("refunds/create", {"refund_line_items.0.line_item": "x"}, "refund_line_items.0.line_item"),
    ("refunds/create", {"refund_line_items.0.quantity": -1}, "refund_line_items.0.quantity"),
    ("refunds/create", {"note": "n" * 1001}, "note"),
    (
        "fulfillments/create",
        {"tracking_number": None, "tracking_numbers": [1]},
        "tracking_numbers.0",
    ),
    ("fulfillments/create", {"order_id": 1.5}, "order_id"),
    ("fulfillments/create", {"tracking_company": {"name": "UPS"}}, "tracking_company"),
    ("fulfillment_events/create", {"status": "teleported"}, "status"),
    ("fulfillment_events/create", {"status": None}, "status"),
    ("fulfillment_events/create", {"estimated_delivery_at": "soon"}, "estimated_delivery_at"),
    ("fulfillment_events/create", {"fulfillment_id": None}, "fulfillment_id"),
    ("fulfillment_events/create", {"message": "x" * 1001}, "message"),
]


@pytest.mark.parametrize(("topic", "changes", "field"), JUNK_CASES)
def test_junk_is_refused_naming_the_field(
    topic: str, changes: dict[str, object], field: str
) -> None:
    with pytest.raises(MappingError) as raised:
        run(topic, patched(load(topic), changes))
    assert raised.value.field == field, raised.value.reason


@pytest.mark.parametrize("topic", sorted(SUPPORTED_TOPICS))
def test_no_junk_anywhere_escapes_as_anything_but_mapping_error(topic: str) -> None:
    """Replace every value of the fixture, one at a time, by a value of every JSON type."""
    payload = load(topic)
    for path in json_paths(payload):
        for junk in JUNK:
            try:
                events = run(topic, patched(payload, {path: junk}))
            except MappingError:
                continue
            assert all(event.shopid == SHOP for event in events)


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_payload_time_that_overflows_in_utc_is_refused_naming_the_field(when: str) -> None:
    payload = patched(load("orders/create"), {"created_at": when, "processed_at": when})
    with pytest.raises(MappingError) as raised:
        run("orders/create", payload)
    assert raised.value.field in ("created_at", "processed_at")
    assert "out of range" in raised.value.reason


def test_a_trigger_header_time_that_overflows_is_refused_naming_the_header() -> None:
    payload = patched(load("customers/create"), {"created_at": None, "updated_at": None})
    early = datetime.fromisoformat("0001-01-01T00:00:00+01:00")
    with pytest.raises(MappingError) as raised:
        run("customers/create", payload, triggered_at=early)
    assert raised.value.field == "X-Shopify-Triggered-At"
    assert "out of range" in raised.value.reason


@pytest.mark.parametrize("amount", ["1e1000000", "9" * 40, "0.0000001"])
def test_refund_amounts_outside_the_money_range_are_refused_before_summing(amount: str) -> None:
    payload = load("refunds/create")
    for transaction in payload["transactions"]:
        transaction.update(kind="refund", status="success", amount=amount)
    with pytest.raises(MappingError) as raised:
        run("refunds/create", payload)
    assert raised.value.field == "transactions.0.amount"
    assert "amounts must be" in raised.value.reason


def test_a_refund_whose_total_leaves_the_money_range_is_refused() -> None:
    payload = load("refunds/create")
    base = payload["transactions"][0]
    payload["transactions"] = [
        {**base, "kind": "refund", "status": "success", "amount": "999999999999"} for _ in range(3)
    ]
    with pytest.raises(MappingError) as raised:
        run("refunds/create", payload)
    assert raised.value.field == "transactions"


def test_integer_ids_beyond_64_bits_are_kept_exact() -> None:
    huge = 2**70 + 1
    payload = patched(load("customers/create"), {"id": huge})
    event = one("customers/create", payload)
    assert event.customerid == str(huge)
