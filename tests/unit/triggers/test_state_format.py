"""The state's bytes: format 4 (a header with the due time, then msgpack), formats 3, 2 and 1
still read and written back as 4, others refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest

from services.triggers.journeys.state import (
    STATE_VERSION,
    CampaignMark,
    Cart,
    ChannelConsent,
    Contact,
    CustomerState,
    Journey,
    Orders,
    OrderSummary,
    ProductPurchases,
    Suppressed,
    Suppression,
    UnsupportedStateVersion,
    View,
    due_of,
)
from tests.unit.triggers.test_state import busy_customer


def full_state() -> CustomerState:
    """Every field of every part set, and no two fields of a kind with the same value, so a
    codec that skips or swaps a field cannot round-trip it."""
    product = {"product_id": "p9", "title": "Beans"}
    return CustomerState(
        shop_id="acme",
        customer_id="c1",
        anonymous_id="v1",
        seq=41,
        contact=Contact(
            time_zone="Europe/Amsterdam",
            birthday="1990-02-03",
            consent={
                "email": ChannelConsent(granted=True, at=101),
                "sms": ChannelConsent(granted=False, at=102),
            },
            suppressions={
                "email": Suppression(
                    scopes={
                        "all": Suppressed(at=117, reason="hard_bounce"),
                        "marketing": Suppressed(at=118, reason="complaint"),
                    },
                    cleared_at=116,
                )
            },
        ),
        carts=[
            Cart(
                cart_id="cart-1",
                items=[product | {"quantity": 2}],
                value={"amount": "20.00", "currency": "EUR"},
                recovery_url="https://shop.example/cart/1",
                at=103,
            )
        ],
        last_cart_add_seq=42,
        views=[View(product_id="p8", category="tea", at=104)],
        orders=Orders(
            count=3,
            first_at=105,
            last_at=106,
            last_seq=43,
            revenue={"EUR": "99.50"},
            ids=["o-1", "o-2"],
            cancelled=["o-0"],
            recent=[
                OrderSummary(
                    order_id="o-2",
                    order_number="#1002",
                    items=[product | {"quantity": 1}],
                    total={"amount": "10.00", "currency": "EUR"},
                    status_url="https://shop.example/o/2",
                    at=107,
                    first_order=True,
                )
            ],
        ),
        purchases=[ProductPurchases(product_id="p7", category="coffee", times=[108, 109], seq=44)],
        surveys=["o-1"],
        last_survey_seq=45,
        segments=["vip"],
        journeys=[
            Journey(
                campaign_id="abandoned_cart",
                journey_id="j-1",
                entered_seq=46,
                entered_at=110,
                anchor=111,
                step=1,
                due_at=112,
                cart_id="cart-1",
                order_id="o-2",
                product=product,
                shipment={"shipment_id": "s-1"},
                segment_id="seg-1",
                occasion_date="2027-02-03",
            )
        ],
        campaigns={"abandoned_cart": CampaignMark(last_entry=113, journey_ids=["j-0", "j-1"])},
        seen=[114, 115],
    )


GOLDEN = Path(__file__).parent / "golden"
"""States that format 3's writer (the version before this one) stored: `full_state()` and
`busy_customer()` as they were written then."""


def golden(name: str) -> bytes:
    return (GOLDEN / f"state_format_3_{name}.json").read_bytes().strip()


def test_every_field_round_trips() -> None:
    state = full_state()
    assert CustomerState.from_bytes(state.to_bytes()) == state
    assert state.copy() == state and state.copy() is not state


def test_the_header_holds_the_version_and_the_next_due_time() -> None:
    raw = full_state().to_bytes()
    assert raw[0] == STATE_VERSION == 4
    assert due_of(raw) == 112.0 == full_state().next_due_s()


@pytest.mark.parametrize(
    "state",
    [
        CustomerState(shop_id="acme", customer_id="c1"),  # nothing pending
        CustomerState(shop_id="acme", anonymous_id="v1", journeys=full_state().journeys),
    ],
    ids=["no-journey", "anonymous"],
)
def test_a_state_with_nothing_to_fire_has_no_due_time(state: CustomerState) -> None:
    assert due_of(state.to_bytes()) is None


def test_the_header_follows_the_earliest_journey() -> None:
    state = full_state()
    later = msgspec.structs.replace(state.journeys[0], journey_id="j-2", due_at=999)
    earlier = msgspec.structs.replace(state.journeys[0], journey_id="j-3", due_at=50)
    state.journeys = [later, earlier]
    assert due_of(state.to_bytes()) == 50.0


@pytest.mark.parametrize("name", ["full", "busy"])
def test_a_state_stored_in_format_3_is_read_as_it_was_and_rewritten_as_4(name: str) -> None:
    stored = golden(name)
    state = CustomerState.from_bytes(stored)
    row: list[Any] = orjson.loads(stored)
    assert orjson.loads(msgspec.json.encode(state))[1:] == row[1:]  # every field as stored
    assert due_of(stored) == state.next_due_s()  # an old state in the index after the upgrade
    rewritten = state.to_bytes()
    assert rewritten[0] == 4 and len(rewritten) < len(stored)
    assert CustomerState.from_bytes(rewritten) == state


def test_the_format_3_golden_state_is_the_full_state() -> None:
    assert CustomerState.from_bytes(golden("full")) == full_state()


def test_formats_3_and_4_hold_the_same_fields() -> None:
    """Format 4's body is format 3's row with msgpack for JSON: the upgrade loses nothing."""
    state = full_state()
    row: list[Any] = orjson.loads(golden("full"))
    body = msgspec.msgpack.decode(state.to_bytes()[9:])
    assert body[1:] == row[1:] and (row[0], body[0]) == (3, 4)


def without_suppressions() -> CustomerState:
    """`full_state` as formats 1 and 2 could hold it (they knew no suppressions)."""
    state = full_state()
    state.contact.suppressions = {}
    return state


def _as_object(value: Any) -> Any:
    """Structs as JSON objects with their field names, as format 1 stored the dataclasses."""
    if isinstance(value, msgspec.Struct):
        return {name: _as_object(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, dict):
        return {k: _as_object(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_object(v) for v in value]
    return value


def format_1(state: CustomerState) -> bytes:
    """What version 1 wrote: the dataclasses as JSON objects, `"v": 1`."""
    as_object = _as_object(state)
    as_object["v"] = 1
    del as_object["contact"]["suppressions"]
    return orjson.dumps(as_object)


def format_2(state: CustomerState) -> bytes:
    """What version 2 wrote: format 3 without the contact's suppressions."""
    assert not state.contact.suppressions
    row: list[Any] = orjson.loads(msgspec.json.encode(state))
    row[0] = 2
    row[5] = row[5][:3]
    return orjson.dumps(row)


FORMAT_2_WRITTEN = (
    b'[2,"acme","c1",null,3,[null,null,{"email":[false,1803902460],"sms":[true,1801310400]}],'
    b'[["cart-1",[{"product_id":"p1","title":"Product p1","category":"coffee","price":'
    b'{"amount":"10.00","currency":"EUR"},"image_url":"https://shop.example/p1.jpg",'
    b'"quantity":1}],{"amount":"10.00","currency":"EUR"},"https://shop.example/cart/cart-1",'
    b"1803902400]],2,[],[0,null,null,0,{},[],[],[]],[],[],0,[],"
    b'[["abandoned_cart","golden-cart",2,1803902400,1803902400,0,1803904200,"cart-1",null,null,'
    b'null,null,null]],{"welcome":[1801310400,["golden-created"]],"abandoned_cart":'
    b'[1803902400,["golden-cart"]]},[226177520429303,182304347430247,142205840261868]]'
)
"""Bytes the format-2 writer produced: a customer with an open cart journey, whose complaint
that version recorded as email consent withdrawn."""


@pytest.mark.parametrize("make", [without_suppressions, busy_customer])
def test_format_1_is_still_read(make: Any) -> None:
    state = make()
    assert CustomerState.from_bytes(format_1(state)) == state
    assert CustomerState.from_bytes(format_1(state)).to_bytes() == state.to_bytes()


@pytest.mark.parametrize("make", [without_suppressions, busy_customer])
def test_format_2_is_still_read(make: Any) -> None:
    state = make()
    assert CustomerState.from_bytes(format_2(state)) == state


def test_a_format_2_state_is_read_as_it_was_and_rewritten_as_4() -> None:
    state = CustomerState.from_bytes(FORMAT_2_WRITTEN)
    assert state.contact.consent["email"] == ChannelConsent(granted=False, at=1803902460)
    assert state.contact.suppressions == {}  # the complaint stays a withdrawal: see state.py
    assert [j.journey_id for j in state.journeys] == ["golden-cart"]
    assert due_of(FORMAT_2_WRITTEN) == 1803904200.0
    rewritten = state.to_bytes()
    assert rewritten[0] == 4 and due_of(rewritten) == 1803904200.0
    assert CustomerState.from_bytes(rewritten) == state


def test_format_4_is_smaller_than_format_3() -> None:
    state = busy_customer()
    assert len(state.to_bytes()) < 0.85 * len(msgspec.json.encode(state))


@pytest.mark.parametrize(
    ("raw", "version"),
    [
        (b'[5,"acme"]', 5),
        (b'{"v":7,"shop_id":"acme"}', 7),
        (b"\x05" + bytes(8) + b"\x90", 5),
        (b"[]", None),
        (b'"a string"', None),
        (b"", None),
    ],
)
def test_other_formats_are_refused_by_name(raw: bytes, version: object) -> None:
    with pytest.raises(UnsupportedStateVersion, match="reads formats 4, 3, 2 and 1") as refused:
        CustomerState.from_bytes(raw)
    assert refused.value.version == version


def test_a_row_of_the_wrong_length_is_an_error_not_a_shift() -> None:
    row: list[Any] = orjson.loads(golden("full"))
    row[8][0].append("extra")  # a view with one element too many
    with pytest.raises(UnsupportedStateVersion, match="length"):
        CustomerState.from_bytes(orjson.dumps(row))


def test_a_damaged_format_4_body_is_refused() -> None:
    raw = full_state().to_bytes()
    with pytest.raises(UnsupportedStateVersion, match="format 4"):
        CustomerState.from_bytes(raw[:-20])
