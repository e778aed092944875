"""`nudge tail`'s filters: decided on the key when it can be, else on the envelope; types as
globs; dead letters by their source key and their payload's type."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.analyst.errors import BadOption
from services.analyst.filters import KeyVerdict, RecordFilter, build_filter, envelope_of
from shared.topics import SHOP_EVENTS, SHOP_EVENTS_DLQ


def envelope(kind: str = "order.placed", shop: str = "acme", **who: str) -> dict[str, Any]:
    return {"type": kind, "shopid": shop, **(who or {"customerid": "c1"}), "data": {}}


def letter(payload: str, key: str | None = "acme:c1", encoding: str = "utf-8") -> dict[str, Any]:
    return {
        "source_topic": SHOP_EVENTS.name,
        "key": key,
        "service": "triggers",
        "reason": "bad",
        "payload": payload,
        "payload_encoding": encoding,
    }


def test_no_filter_accepts_without_looking() -> None:
    wanted = build_filter()
    assert wanted.key_verdict(b"acme:c1") is KeyVerdict.ACCEPT
    assert wanted.key_verdict(None) is KeyVerdict.ACCEPT
    assert not wanted.needs_value


def test_shop_and_customer_are_decided_on_the_key() -> None:
    wanted = build_filter(shops=["acme", "beta"], customers=["c1", "anon:v9"])
    assert wanted.key_verdict(b"acme:c1") is KeyVerdict.ACCEPT
    assert wanted.key_verdict(b"beta:anon:v9") is KeyVerdict.ACCEPT
    assert wanted.key_verdict(b"acme:c2") is KeyVerdict.REJECT
    assert wanted.key_verdict(b"acmex:c1") is KeyVerdict.REJECT
    assert wanted.key_verdict(b"other:c1") is KeyVerdict.REJECT
    assert not wanted.needs_value
    # No key, or one that is not shop:customer: the envelope decides.
    assert wanted.key_verdict(None) is KeyVerdict.UNDECIDED
    assert wanted.key_verdict(b"acme") is KeyVerdict.UNDECIDED
    assert wanted.key_verdict(b"\xff:c1") is KeyVerdict.UNDECIDED


def test_customer_ids_may_hold_colons() -> None:
    wanted = build_filter(customers=["gid:shopify:1"])
    assert wanted.key_verdict(b"acme:gid:shopify:1") is KeyVerdict.ACCEPT


def test_the_envelope_decides_when_the_key_cannot() -> None:
    wanted = build_filter(shops=["acme"], customers=["c1"])
    topic = SHOP_EVENTS.name
    undecided = KeyVerdict.UNDECIDED
    assert wanted.value_matches(topic, envelope(), undecided)
    assert not wanted.value_matches(topic, envelope(shop="beta"), undecided)
    assert not wanted.value_matches(topic, envelope(anonymousid="c1"), undecided)
    assert build_filter(customers=["anon:v1"]).value_matches(
        topic, envelope(anonymousid="v1"), undecided
    )
    assert not wanted.value_matches(topic, None, undecided)  # not JSON
    assert not wanted.value_matches(topic, [1, 2], undecided)
    assert build_filter(shops=["acme"]).value_matches(
        topic, {"type": "x", "shopid": "acme"}, undecided
    )


def test_types_are_globs_over_the_envelope_type() -> None:
    wanted = build_filter(types=["order.*", "customer.created"])
    assert wanted.needs_value
    accepted = KeyVerdict.ACCEPT
    assert wanted.value_matches(SHOP_EVENTS.name, envelope("order.placed"), accepted)
    assert wanted.value_matches(SHOP_EVENTS.name, envelope("order.cancelled"), accepted)
    assert wanted.value_matches(SHOP_EVENTS.name, envelope("customer.created"), accepted)
    assert not wanted.value_matches(SHOP_EVENTS.name, envelope("customer.updated"), accepted)
    assert not wanted.value_matches(SHOP_EVENTS.name, envelope("reorder.placed"), accepted)
    assert not wanted.value_matches(SHOP_EVENTS.name, {"data": {}}, accepted)
    assert not wanted.value_matches(SHOP_EVENTS.name, None, accepted)


def test_dead_letters_match_on_their_source_key_and_payload_type() -> None:
    dlq = SHOP_EVENTS_DLQ.name
    payload = json.dumps(envelope("order.placed"))
    wanted = build_filter(shops=["acme"], types=["order.*"])
    assert wanted.value_matches(dlq, letter(payload), KeyVerdict.ACCEPT)
    assert not wanted.value_matches(
        dlq, letter(json.dumps(envelope("cart.updated"))), KeyVerdict.ACCEPT
    )
    assert not wanted.value_matches(dlq, letter("not json"), KeyVerdict.ACCEPT)
    assert not wanted.value_matches(dlq, letter("AAE=", encoding="base64"), KeyVerdict.ACCEPT)
    # A letter parked without a record key: the key it recorded, else its payload's envelope.
    by_shop = build_filter(shops=["acme"])
    assert by_shop.value_matches(dlq, letter("x", key="acme:c9"), KeyVerdict.UNDECIDED)
    assert not by_shop.value_matches(dlq, letter("x", key="beta:c9"), KeyVerdict.UNDECIDED)
    assert by_shop.value_matches(dlq, letter(payload, key=None), KeyVerdict.UNDECIDED)
    assert not by_shop.value_matches(dlq, letter("x", key=None), KeyVerdict.UNDECIDED)
    # On a topic that is not a dead-letter topic, the value is the envelope itself.
    assert envelope_of(SHOP_EVENTS.name, letter(payload)) == letter(payload)
    assert envelope_of(dlq, letter(payload)) == json.loads(payload)


@pytest.mark.parametrize(
    ("option", "kwargs"),
    [
        ("--shop", {"shops": ["Acme"]}),
        ("--shop", {"shops": ["a"]}),
        ("--shop", {"shops": ["acme:c1"]}),
        ("--customer", {"customers": [""]}),
        ("--customer", {"customers": [" c1"]}),
        ("--customer", {"customers": ["c" * 300]}),
        ("--type", {"types": ["order placed"]}),
        ("--type", {"types": ["order.placed;rm"]}),
        ("--type", {"types": [""]}),
    ],
)
def test_refusals_name_the_option(option: str, kwargs: dict[str, list[str]]) -> None:
    with pytest.raises(BadOption) as caught:
        build_filter(**kwargs)
    assert caught.value.option == option


def test_repeated_values_are_kept_once() -> None:
    assert build_filter(["acme", "acme"], [], ["a.*", "a.*"]) == RecordFilter(
        frozenset({"acme"}), frozenset(), ("a.*",)
    )
