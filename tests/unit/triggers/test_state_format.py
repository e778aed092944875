"""The state's bytes: format 3 (positional, versioned), formats 2 and 1 still read and written
back as 3, others refused."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

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


def test_every_field_round_trips() -> None:
    state = full_state()
    assert CustomerState.from_bytes(state.to_bytes()) == state
    assert state.copy() == state and state.copy() is not state


def test_each_row_has_one_element_per_field() -> None:
    row: list[Any] = orjson.loads(full_state().to_bytes())
    assert row[0] == STATE_VERSION
    assert len(row) == len(fields(CustomerState))
    contact, carts, views, orders, purchases = row[5], row[6], row[8], row[9], row[10]
    journeys, campaigns = row[14], row[15]
    assert len(contact) == len(fields(Contact))
    assert len(contact[2]["email"]) == len(fields(ChannelConsent))
    assert len(contact[3]["email"]) == len(fields(Suppression))
    assert len(contact[3]["email"][0]["all"]) == len(fields(Suppressed))
    assert len(carts[0]) == len(fields(Cart))
    assert len(views[0]) == len(fields(View))
    assert len(orders) == len(fields(Orders))
    assert len(orders[7][0]) == len(fields(OrderSummary))
    assert len(purchases[0]) == len(fields(ProductPurchases))
    assert len(journeys[0]) == len(fields(Journey))
    assert len(campaigns["abandoned_cart"]) == len(fields(CampaignMark))


def without_suppressions() -> CustomerState:
    """`full_state` as formats 1 and 2 could hold it (they knew no suppressions)."""
    state = full_state()
    state.contact.suppressions = {}
    return state


def format_1(state: CustomerState) -> bytes:
    """What version 1 wrote: the dataclasses as JSON objects, `"v": 1`."""
    as_object = orjson.loads(orjson.dumps(state))
    as_object["v"] = 1
    del as_object["contact"]["suppressions"]
    return orjson.dumps(as_object)


def format_2(state: CustomerState) -> bytes:
    """What version 2 wrote: format 3 without the contact's suppressions."""
    assert not state.contact.suppressions
    row: list[Any] = orjson.loads(state.to_bytes())
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
"""Bytes the format-2 writer produced (before this version): a customer with an open cart
journey, whose complaint that version recorded as email consent withdrawn."""


@pytest.mark.parametrize("make", [without_suppressions, busy_customer])
def test_format_1_is_still_read(make: Any) -> None:
    state = make()
    assert CustomerState.from_bytes(format_1(state)) == state
    assert CustomerState.from_bytes(format_1(state)).to_bytes() == state.to_bytes()


@pytest.mark.parametrize("make", [without_suppressions, busy_customer])
def test_format_2_is_still_read(make: Any) -> None:
    state = make()
    assert CustomerState.from_bytes(format_2(state)) == state


def test_a_format_2_state_is_read_as_it_was_and_rewritten_as_3() -> None:
    old: list[Any] = orjson.loads(FORMAT_2_WRITTEN)
    state = CustomerState.from_bytes(FORMAT_2_WRITTEN)
    assert state.contact.consent["email"] == ChannelConsent(granted=False, at=1803902460)
    assert state.contact.suppressions == {}  # the complaint stays a withdrawal: see state.py
    assert [j.journey_id for j in state.journeys] == ["golden-cart"]
    new: list[Any] = orjson.loads(state.to_bytes())
    assert new[0] == STATE_VERSION == 3
    assert new[5] == [*old[5], {}]
    assert new[1:5] == old[1:5] and new[6:] == old[6:]
    assert CustomerState.from_bytes(state.to_bytes()) == state


def test_the_positional_format_is_smaller_than_format_1() -> None:
    state = busy_customer()
    assert len(state.to_bytes()) < 0.85 * len(format_1(state))


@pytest.mark.parametrize(
    ("raw", "version"),
    [
        (b'[4,"acme"]', 4),
        (b'{"v":7,"shop_id":"acme"}', 7),
        (b"[]", None),
        (b'"a string"', None),
    ],
)
def test_other_formats_are_refused_by_name(raw: bytes, version: object) -> None:
    with pytest.raises(UnsupportedStateVersion, match="reads formats 3, 2 and 1") as refused:
        CustomerState.from_bytes(raw)
    assert refused.value.version == version


def test_a_row_of_the_wrong_length_is_an_error_not_a_shift() -> None:
    row: list[Any] = orjson.loads(full_state().to_bytes())
    row[8][0].append("extra")  # a view with one element too many
    with pytest.raises(ValueError, match="too many values"):
        CustomerState.from_bytes(orjson.dumps(row))
