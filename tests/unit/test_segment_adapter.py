"""Segment track/identify calls → shop events, on the Segment Spec's own examples."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from services.ingest.adapters import MappingError, map_segment_call
from shared.events import ShopEvent, derived_event_id, dump_shop_event, parse_shop_event
from shared.events.catalog import (
    CheckoutStartedEvent,
    CustomerIdentifiedEvent,
    CustomerUpdatedEvent,
    OrderCancelledEvent,
    OrderPlacedEvent,
    OrderRefundedEvent,
    ProductAddedEvent,
    ProductRemovedEvent,
    ProductViewedEvent,
)
from shared.events.types import Money
from tests.support.json_mutation import DELETE, JUNK, json_paths, patched

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "segment"
SHOP = "acme"
ANONYMOUS = "23adfd82-aa0f-45a7-a756-24f2a7a4c895"
USER = "97980cfea0067"
TRACK_TIME = datetime(2021, 6, 10, 18, 31, 22, 612000, tzinfo=UTC)
CALLS = sorted(path.stem for path in FIXTURES.glob("*.json"))


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


def run(call: Any, default_type: str | None = None) -> list[ShopEvent]:
    payload = load(call) if isinstance(call, str) else call
    return map_segment_call(payload, shop_id=SHOP, default_type=default_type)


def one(call: Any) -> ShopEvent:
    events = run(call)
    assert len(events) == 1, events
    return events[0]


def usd(amount: str) -> Money:
    return Money(amount=Decimal(amount), currency="USD")


def message_id(name: str) -> str:
    return str(load(name)["messageId"])


@pytest.mark.parametrize("name", CALLS)
def test_every_event_survives_the_wire(name: str) -> None:
    for event in run(name):
        assert parse_shop_event(dump_shop_event(event)) == event
        assert event.source == "/shops/acme/segment"


def test_ids_derive_from_the_message_id() -> None:
    event = one("order_completed")
    assert event.id == derived_event_id(SHOP, "segment", message_id("order_completed"))
    assert one("order_completed").id == event.id  # a retried call
    other = patched(load("order_completed"), {"messageId": "ajs-next-something-else"})
    assert one(other).id != event.id


# --- identify --------------------------------------------------------------------------------


def test_identify_updates_the_customer_and_links_the_anonymous_visitor() -> None:
    updated, identified = run("identify")
    assert isinstance(updated, CustomerUpdatedEvent)
    assert updated.type == "customer.updated"
    assert updated.id == derived_event_id(SHOP, "segment", "022bb90c-bbac-11e4-8dfc-aa07a5b093db")
    assert (updated.customerid, updated.anonymousid) == (USER, "507f191e810c19729de860ea")
    assert updated.key == f"acme:{USER}"
    assert updated.time == datetime(2015, 2, 23, 22, 28, 55, 111000, tzinfo=UTC)
    data = updated.data
    assert data.email == "peter@example.com"
    assert (data.first_name, data.last_name) == ("Peter", "Gibbons")
    assert data.phone == "+14155550123"  # from context.traits, normalised
    assert data.birthday == date(1985, 5, 11)
    assert (data.locale, data.time_zone) == ("en-US", "America/New_York")

    assert isinstance(identified, CustomerIdentifiedEvent)
    assert identified.type == "customer.identified"
    assert (identified.customerid, identified.anonymousid) == (None, "507f191e810c19729de860ea")
    assert identified.key == "acme:anon:507f191e810c19729de860ea"
    assert (identified.data.anonymous_id, identified.data.customer_id) == (
        "507f191e810c19729de860ea",
        USER,
    )
    assert identified.id != updated.id


def test_the_same_identification_is_one_fact() -> None:
    first = run("identify")[1]
    again = run(patched(load("identify"), {"messageId": "a-later-identify"}))[1]
    assert first.id == again.id


def test_identify_with_one_id_only_links_nothing() -> None:
    anonymous = patched(load("identify"), {"userId": DELETE})
    [event] = run(anonymous)
    assert event.key == "acme:anon:507f191e810c19729de860ea"
    known = patched(load("identify"), {"anonymousId": None})
    [event] = run(known)
    assert (event.customerid, event.anonymousid) == (USER, None)


def test_identify_accepts_snake_case_traits_and_prefers_the_calls_traits() -> None:
    call = patched(
        load("identify"),
        {
            "traits": {"first_name": "Pete", "last_name": "G", "email": "pete@example.com"},
            "context.traits": {"email": "old@example.com", "firstName": "Old"},
        },
    )
    event = run(call)[0]
    assert isinstance(event, CustomerUpdatedEvent)
    assert (event.data.first_name, event.data.last_name) == ("Pete", "G")
    assert event.data.email == "pete@example.com"


@pytest.mark.parametrize(
    ("dropped", "changes"),
    [
        ("phone", {"context.traits.phone": "call me maybe"}),
        ("phone", {"context.traits.phone": 4155550123}),
        ("locale", {"context.locale": "English (US)"}),
        ("time_zone", {"context.timezone": "Mars/Olympus"}),
        ("birthday", {"traits.birthday": "the fifth of May"}),
    ],
)
def test_bad_enrichments_are_dropped_not_fatal(dropped: str, changes: dict[str, object]) -> None:
    intact = run("identify")[0]
    event = run(patched(load("identify"), changes))[0]
    assert isinstance(event, CustomerUpdatedEvent)
    assert getattr(event.data, dropped) is None
    assert getattr(intact.data, dropped) is not None
    assert event.data.model_dump(exclude={dropped}) == intact.data.model_dump(exclude={dropped})


def test_an_invalid_email_trait_is_refused() -> None:
    with pytest.raises(MappingError) as raised:
        run(patched(load("identify"), {"traits.email": "peter at example"}))
    assert raised.value.field == "traits.email"


# --- e-commerce v2 ---------------------------------------------------------------------------


def test_product_viewed() -> None:
    event = one("product_viewed")
    assert isinstance(event, ProductViewedEvent)
    assert event.type == "product.viewed"
    assert (event.customerid, event.anonymousid) == (None, ANONYMOUS)
    assert event.key == f"acme:anon:{ANONYMOUS}"
    assert event.time == TRACK_TIME
    product = event.data.product
    assert (product.product_id, product.sku, product.title) == (
        "507f1f77bcf86cd799439011",
        "G-32",
        "Monopoly: 3rd Edition",
    )
    assert (product.category, product.brand, product.variant_id) == (
        "Games",
        "Hasbro",
        "200 pieces",
    )
    assert product.price == usd("18.99")  # "usd" in the call: upper-cased
    assert product.url == "https://www.example.com/product/path"
    assert product.image_url == "https://www.example.com/product/path.jpg"


def test_product_added_and_removed() -> None:
    added = one("product_added")
    assert isinstance(added, ProductAddedEvent)
    assert added.type == "product.added"
    assert added.data.cart_id == "skdjsidjsdkdj29j"
    assert (added.data.item.product_id, added.data.item.quantity) == ("507f1f77bcf86cd799439011", 2)
    assert added.data.item.price == usd("18.99")
    removed = one("product_removed")
    assert isinstance(removed, ProductRemovedEvent)
    assert removed.type == "product.removed"
    assert removed.data.item.quantity == 1


def test_checkout_started() -> None:
    event = one("checkout_started")
    assert isinstance(event, CheckoutStartedEvent)
    assert event.type == "checkout.started"
    assert (event.customerid, event.anonymousid) == (USER, ANONYMOUS)
    assert event.key == f"acme:{USER}"
    data = event.data
    assert data.checkout_id == "50314b8e9bcf000000000000"  # no checkout_id: the order_id
    assert data.value == usd("30")  # value wins over revenue
    assert [(item.product_id, item.quantity, item.price) for item in data.items] == [
        ("507f1f77bcf86cd799439011", 1, usd("19")),
        ("505bd76785ebb509fc183733", 2, usd("3")),
    ]


def test_checkout_started_prefers_checkout_id_and_falls_back_to_revenue_then_prices() -> None:
    call = patched(
        load("checkout_started"), {"properties.checkout_id": "chk_1", "properties.value": None}
    )
    event = one(call)
    assert isinstance(event, CheckoutStartedEvent)
    assert (event.data.checkout_id, event.data.value) == ("chk_1", usd("25.00"))
    bare = patched(call, {"properties.revenue": DELETE, "properties.currency": DELETE})
    event = one(bare)
    assert isinstance(event, CheckoutStartedEvent)
    assert event.data.value == usd("25")  # 19 * 1 + 3 * 2, in the Spec's default USD


def test_order_completed() -> None:
    event = one("order_completed")
    assert isinstance(event, OrderPlacedEvent)
    assert event.type == "order.placed"
    assert event.key == f"acme:{USER}"
    data = event.data
    assert (data.order_id, data.checkout_id) == (
        "50314b8e9bcf000000000000",
        "fksdjfsdjfisjf9sdfjsd9f",
    )
    assert (data.total, data.subtotal, data.shipping, data.tax, data.discounts) == (
        usd("27.5"),
        usd("22.5"),
        usd("3"),
        usd("2"),
        usd("2.5"),
    )
    assert isinstance(data.total.amount, Decimal)
    assert data.discount_codes == ["hasbros"]
    assert len(data.items) == 2
    # The Spec's own example link has three slashes: still an absolute link, kept.
    assert data.items[0].image_url == "https:///www.example.com/product/path.jpg"


def test_order_completed_in_another_currency() -> None:
    event = one(patched(load("order_completed"), {"properties.currency": "EUR"}))
    assert isinstance(event, OrderPlacedEvent)
    assert event.data.total == Money(amount=Decimal("27.5"), currency="EUR")
    assert event.data.items[0].price == Money(amount=Decimal("19"), currency="EUR")


def test_order_refunded() -> None:
    event = one("order_refunded")
    assert isinstance(event, OrderRefundedEvent)
    assert event.type == "order.refunded"
    assert event.data.order_id == "50314b8e9bcf000000000000"
    assert event.data.amount == usd("30")
    assert event.data.refund_id == message_id("order_refunded")  # no refund_id in the call
    assert [item.product_id for item in event.data.items] == ["507f1f77bcf86cd799439011"]
    with_id = one(patched(load("order_refunded"), {"properties.refund_id": "re_42"}))
    assert isinstance(with_id, OrderRefundedEvent)
    assert with_id.data.refund_id == "re_42"


def test_order_cancelled() -> None:
    event = one("order_cancelled")
    assert isinstance(event, OrderCancelledEvent)
    assert event.type == "order.cancelled"
    assert event.data.order_id == "50314b8e9bcf000000000000"
    assert event.key == f"acme:{USER}"


@pytest.mark.parametrize(
    "name", ["order_completed", "Order Completed", "ORDER COMPLETED", "Completed Order"]
)
def test_event_names_in_any_common_spelling(name: str) -> None:
    event = one(patched(load("order_completed"), {"event": name}))
    assert event.type == "order.placed"


@pytest.mark.parametrize("name", ["Cart Viewed", "Product Clicked", "Signed Up", "Wishlist Shared"])
def test_other_track_events_are_ignored(name: str) -> None:
    assert run(patched(load("cart_viewed"), {"event": name})) == []


@pytest.mark.parametrize("call_type", ["page", "screen", "group", "alias"])
def test_other_call_types_are_ignored(call_type: str) -> None:
    assert run({"type": call_type, "messageId": "m1", "anonymousId": "a1"}) == []


def test_the_batch_items_type_applies_when_the_call_has_none() -> None:
    call = patched(load("identify"), {"type": DELETE})
    assert [event.type for event in run(call, default_type="identify")] == [
        "customer.updated",
        "customer.identified",
    ]
    with pytest.raises(MappingError) as raised:
        run(call)
    assert raised.value.field == "type"


def test_timestamp_falls_back_to_original_timestamp_then_sent_at() -> None:
    call = patched(load("order_completed"), {"timestamp": DELETE})
    assert one(call).time == TRACK_TIME
    call = patched(call, {"originalTimestamp": None})
    assert one(call).time == datetime(2021, 6, 10, 18, 31, 22, 750000, tzinfo=UTC)


# --- refusals --------------------------------------------------------------------------------


JUNK_CASES: list[tuple[str, dict[str, object], str]] = [
    ("order_completed", {"messageId": DELETE}, "messageId"),
    ("order_completed", {"messageId": {"id": 1}}, "messageId"),
    ("order_completed", {"userId": None, "anonymousId": None}, "userId"),
    ("order_completed", {"userId": ["u1"]}, "userId"),
    ("order_completed", {"anonymousId": False}, "anonymousId"),
    (
        "order_completed",
        {"timestamp": None, "originalTimestamp": None, "sentAt": DELETE},
        "timestamp",
    ),
    ("order_completed", {"timestamp": "2021-06-10T18:31:22"}, "timestamp"),
    ("order_completed", {"timestamp": "yesterday"}, "timestamp"),
    ("order_completed", {"timestamp": 1623349882}, "timestamp"),
    ("order_completed", {"type": 7}, "type"),
    ("order_completed", {"event": None}, "event"),
    ("order_completed", {"event": ["Order Completed"]}, "event"),
    ("order_completed", {"properties": "order"}, "properties"),
    ("order_completed", {"properties.order_id": None}, "properties.order_id"),
    ("order_completed", {"properties.products": []}, "properties.products"),
    ("order_completed", {"properties.products": {"0": {}}}, "properties.products"),
    ("order_completed", {"properties.products.1": "uno"}, "properties.products.1"),
    (
        "order_completed",
        {"properties.products.1.product_id": None},
        "properties.products.1.product_id",
    ),
    (
        "order_completed",
        {"properties.products.1.price": "3 dollars"},
        "properties.products.1.price",
    ),
    ("order_completed", {"properties.products.1.quantity": 0}, "properties.products.1.quantity"),
    (
        "order_completed",
        {"properties.products.1.name": {"en": "Uno"}},
        "properties.products.1.name",
    ),
    ("order_completed", {"properties.total": True}, "properties.total"),
    ("order_completed", {"properties.total": "NaN"}, "properties.total"),
    ("order_completed", {"properties.currency": "dollars"}, "properties.currency"),
    ("order_completed", {"properties.coupon": 10}, "properties.coupon"),
    (
        "order_completed",
        {
            "properties.total": None,
            "properties.revenue": None,
            "properties.value": None,
            "properties.products.0.price": None,
        },
        "properties.total",
    ),
    ("product_viewed", {"properties": DELETE}, "properties.product_id"),
    ("product_viewed", {"properties.product_id": 3.5}, "properties.product_id"),
    ("product_viewed", {"properties.price": [18.99]}, "properties.price"),
    ("product_viewed", {"properties.category": "c" * 256}, "properties.category"),
    ("product_added", {"properties.cart_id": {}}, "properties.cart_id"),
    ("product_added", {"properties.quantity": "lots"}, "properties.quantity"),
    ("checkout_started", {"properties.order_id": None}, "properties.checkout_id"),
    ("order_refunded", {"properties.order_id": DELETE}, "properties.order_id"),
    ("order_cancelled", {"properties.reason": 404}, "properties.reason"),
    ("identify", {"traits": "peter"}, "traits"),
    ("identify", {"traits.email": 12}, "traits.email"),
    ("identify", {"context": "browser"}, "context"),
    ("identify", {"context.traits": ["x"]}, "context.traits"),
    ("identify", {"traits.firstName": "P" * 101}, "traits.firstName"),
]


@pytest.mark.parametrize(("name", "changes", "field"), JUNK_CASES)
def test_junk_is_refused_naming_the_field(
    name: str, changes: dict[str, object], field: str
) -> None:
    with pytest.raises(MappingError) as raised:
        run(patched(load(name), changes))
    assert raised.value.field == field, raised.value.reason


@pytest.mark.parametrize("call", [[], "track", 1, None, 2.5])
def test_a_call_that_is_not_an_object_is_refused(call: Any) -> None:
    with pytest.raises(MappingError) as raised:
        map_segment_call(call, shop_id=SHOP, default_type="track")
    assert raised.value.field == "$"


@pytest.mark.parametrize("name", CALLS)
def test_no_junk_anywhere_escapes_as_anything_but_mapping_error(name: str) -> None:
    """Replace every value of the call, one at a time, by a value of every JSON type."""
    payload = load(name)
    for path in json_paths(payload):
        for junk in JUNK:
            try:
                events = run(patched(payload, {path: junk}))
            except MappingError:
                continue
            assert all(event.shopid == SHOP for event in events)


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_timestamp_that_overflows_in_utc_is_refused_naming_the_field(when: str) -> None:
    call = patched(load("order_completed"), {"timestamp": when})
    with pytest.raises(MappingError) as raised:
        run(call)
    assert raised.value.field == "timestamp"
    assert "out of range" in raised.value.reason


@pytest.mark.parametrize("amount", [1e300, "1e1000000", "0.0000001"])
def test_amounts_outside_the_money_range_are_refused_naming_the_field(amount: object) -> None:
    call = patched(load("order_completed"), {"properties.total": amount})
    with pytest.raises(MappingError) as raised:
        run(call)
    assert raised.value.field == "properties.total"
    assert "amounts must be" in raised.value.reason


def test_a_total_from_products_outside_the_money_range_is_refused() -> None:
    call = load("order_completed")
    for key in ("total", "value", "revenue"):
        call["properties"].pop(key, None)
    for product in call["properties"]["products"]:
        product.update(price="999999999999", quantity=100)
    with pytest.raises(MappingError) as raised:
        run(call)
    assert raised.value.field == "properties.products"


def test_integer_ids_beyond_64_bits_are_kept_exact() -> None:
    huge = 2**64
    call = patched(load("order_completed"), {"userId": huge})
    assert one(call).customerid == str(huge)
