"""The envelope and the typed shop events: what is accepted, what is refused, and why."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from shared.events import (
    EVENT_TYPES,
    derived_event_id,
    dump_shop_event,
    parse_shop_event,
    record_key,
)
from shared.events.catalog import OrderPlacedEvent
from tests.support.payloads import order_placed


def envelope(**overrides: Any) -> dict[str, Any]:
    return {
        **order_placed("9007199254740993"),
        "shopid": "acme",
        "source": "/shops/acme/api",
        **overrides,
    }


def test_round_trip_keeps_big_ids_and_decimals_exact() -> None:
    event = parse_shop_event(dump_shop_event(OrderPlacedEvent.model_validate(envelope())))
    assert isinstance(event, OrderPlacedEvent)
    assert event.customerid == "9007199254740993"
    assert event.data.total.amount == Decimal("59.90")
    wire = dump_shop_event(event)
    assert b'"amount":"59.90"' in wire
    assert b"null" not in wire


def test_integer_ids_become_exact_strings() -> None:
    event = OrderPlacedEvent.model_validate(envelope(customerid=820982911946154508))
    assert event.customerid == "820982911946154508"


@pytest.mark.parametrize(
    ("value", "kept"),
    [
        (" c-1\t", "c-1"),
        (10**20, "100000000000000000000"),
        ("\x1cc-1", "\x1cc-1"),  # not whitespace to pydantic, unlike to str.strip()
        ("\u00a0kéy ", "kéy"),
        (" " + "a" * 255, "a" * 255),  # the limit counts what is left after stripping
    ],
)
def test_ids_are_stripped_text(value: object, kept: str) -> None:
    assert OrderPlacedEvent.model_validate(envelope(customerid=value)).customerid == kept


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("", "Value should have at least 1 item after validation, not 0"),
        (" \n ", "Value should have at least 1 item after validation, not 0"),
        ("a" * 256, "Value should have at most 255 items after validation, not 256"),
        ("é" * 256, "Value should have at most 255 items after validation, not 256"),
        (True, "Input should be a valid string"),
        (1.0, "Input should be a valid string"),
        ("\ud800", "Input should be a valid string, unable to parse raw data as a unicode string"),
    ],
)
def test_bad_ids_are_refused_with_their_reason(value: object, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        OrderPlacedEvent.model_validate(envelope(customerid=value))
    assert [(e["loc"], e["msg"]) for e in caught.value.errors()] == [(("customerid",), reason)]


def test_time_is_normalised_to_utc_and_must_carry_an_offset() -> None:
    event = OrderPlacedEvent.model_validate(envelope(time="2026-03-29T02:30:00+02:00"))
    assert event.time.isoformat() == "2026-03-29T00:30:00+00:00"
    with pytest.raises(ValidationError, match="timezone"):
        OrderPlacedEvent.model_validate(envelope(time="2026-03-29T02:30:00"))


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"customerid": None}, "customerid or anonymousid"),
        ({"shopid": "Not A Slug"}, "shopid"),
        ({"id": "has space"}, "id"),
    ],
)
def test_envelope_rules(change: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        OrderPlacedEvent.model_validate(envelope(**change))


def test_money_is_never_a_float_infinity_or_mixed_currency() -> None:
    data = envelope()["data"]
    with pytest.raises(ValidationError):
        OrderPlacedEvent.model_validate(
            envelope(data={**data, "total": {"amount": "inf", "currency": "EUR"}})
        )
    with pytest.raises(ValidationError, match="currency"):
        OrderPlacedEvent.model_validate(
            envelope(data={**data, "total": {"amount": "1", "currency": "euro"}})
        )
    mixed = {**data, "shipping": {"amount": "4.95", "currency": "USD"}}
    with pytest.raises(ValidationError, match="several currencies"):
        OrderPlacedEvent.model_validate(envelope(data=mixed))


def test_customer_fields_are_validated() -> None:
    base = {
        "id": "e1",
        "type": "customer.created",
        "time": "2026-01-01T00:00:00Z",
        "shopid": "acme",
        "source": "/shops/acme/api",
        "customerid": "c1",
    }
    data = {
        "phone": "+31 6 12345678",
        "time_zone": "Europe/Amsterdam",
        "locale": "nl-NL",
        "birthday": "1990-02-28",
    }
    ok = parse_shop_event(dump_shop_event(parse_shop_event(json.dumps({**base, "data": data}))))
    assert ok.data.phone == "+31612345678"  # type: ignore[union-attr]
    for data, field in [
        ({"phone": "12345"}, "phone"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"time_zone": "America"}, "time_zone"),  # a folder of the zone database
        ({"time_zone": "Europe/" + "x" * 300}, "time_zone"),
        ({"email": "not-an-email"}, "email"),
        ({"birthday": "1990-02-30"}, "birthday"),
    ]:
        with pytest.raises(ValidationError, match=field):
            parse_shop_event(json.dumps({**base, "data": data}))


def test_contacts_seen_before_get_the_same_answer() -> None:
    event = {
        "id": "e1",
        "type": "customer.updated",
        "time": "2026-01-01T00:00:00Z",
        "shopid": "acme",
        "source": "/shops/acme/api",
        "customerid": "c1",
    }
    data = {"email": "Anna@Example.COM", "phone": "+31 6 12345678"}
    for _ in range(2):
        ok = parse_shop_event(json.dumps({**event, "data": data}))
        assert (ok.data.email, ok.data.phone) == ("Anna@example.com", "+31612345678")  # type: ignore[union-attr]
        for field, bad in [("email", "anna@"), ("email", " anna@ "), ("phone", "12345")]:
            with pytest.raises(ValidationError, match=field):
                parse_shop_event(json.dumps({**event, "data": {field: bad}}))


def test_keys_separate_customers_from_visitors() -> None:
    assert record_key("acme", "42", None) == "acme:42"
    assert record_key("acme", None, "42") == "acme:anon:42"
    assert record_key("acme", "42", "v-1") == "acme:42"


def test_derived_ids_are_stable_and_scoped_per_shop() -> None:
    a = derived_event_id("acme", "shopify", "webhook-1")
    assert a == derived_event_id("acme", "shopify", "webhook-1")
    assert a != derived_event_id("other", "shopify", "webhook-1")
    assert a != derived_event_id("acme", "segment", "webhook-1")


def test_every_catalog_event_type_is_registered() -> None:
    assert set(EVENT_TYPES) == {
        "customer.created",
        "customer.updated",
        "customer.identified",
        "product.viewed",
        "product.added",
        "product.removed",
        "cart.updated",
        "checkout.started",
        "order.placed",
        "order.cancelled",
        "order.refunded",
        "shipment.created",
        "shipment.status_changed",
        "shipment.delivered",
        "subscription.changed",
    }
