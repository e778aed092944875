"""Anonymous visitors: their journeys wait, parked, and move to the customer on identify."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.triggers.journeys import fire_due, merge_identified
from tests.unit.triggers.builders import (
    T0,
    Customer,
    added,
    at,
    cart_updated,
    consenting_customer,
    fires,
    open_journeys,
    order_placed,
    viewed,
)

CART = "abandoned_cart"


def visitor_with_cart() -> Customer:
    visitor = Customer()
    visitor.send(viewed(T0, "p9", customer=None, anonymous="v-1"))
    visitor.send(cart_updated(at(minutes=1), customer=None, anonymous="v-1"))
    return visitor


def test_a_visitor_keeps_a_parked_journey_and_is_never_fired_to() -> None:
    visitor = visitor_with_cart()
    assert visitor.state is not None
    assert open_journeys(visitor.state, CART) != []
    assert visitor.state.next_due_at() is None  # no timer for someone we cannot reach
    assert fire_due(visitor.state, at(hours=1), visitor.campaigns).actions == ()


def test_identified_as_a_new_customer_the_visitor_state_is_taken_whole() -> None:
    visitor = visitor_with_cart()
    assert visitor.state is not None
    merged = merge_identified(visitor.state, None, customer_id="c-new")
    assert merged.customer_id == "c-new"
    assert open_journeys(merged, CART) == open_journeys(visitor.state, CART)
    with pytest.raises(ValueError, match="customer_id"):
        merge_identified(visitor.state, None)


def test_carts_views_and_journeys_move_to_a_known_customer_and_fire_from_there() -> None:
    visitor = visitor_with_cart()
    customer = consenting_customer()
    assert visitor.state is not None and customer.state is not None
    merged = merge_identified(visitor.state, customer.state)
    assert merged.customer_id == "c1"
    assert [c.cart_id for c in merged.carts] == ["cart-1"]
    assert [v.product_id for v in merged.views] == ["p9"]
    assert merged.next_due_at() == at(minutes=31)
    (fire,) = fires(fire_due(merged, at(minutes=31), customer.campaigns).actions, CART)
    assert fire.customer_id == "c1"
    assert fire.data.context.cart is not None


def test_an_order_after_the_hand_over_still_stops_the_moved_journey() -> None:
    visitor = visitor_with_cart()
    customer = consenting_customer()
    assert visitor.state is not None and customer.state is not None
    customer.state = merge_identified(visitor.state, customer.state)
    customer.send(order_placed(at(minutes=10)))
    assert open_journeys(customer.state, CART) == []


def test_an_order_that_reached_the_customer_before_the_hand_over_stops_the_moved_journey() -> None:
    """The checkout's hand-over travels through a topic; the order can get there first (found
    by the e2e run: a Shopify buyer was reminded of the cart they had just paid for)."""
    visitor = visitor_with_cart()  # cart activity at 1 min
    customer = consenting_customer()
    customer.send(order_placed(at(minutes=5)))
    assert visitor.state is not None and customer.state is not None
    customer.state = merge_identified(visitor.state, customer.state)
    decision = fire_due(customer.state, at(minutes=31), customer.campaigns)
    assert fires(decision.actions, CART) == []
    assert open_journeys(decision.state, CART) == []


def test_an_order_before_the_visitors_cart_activity_does_not_stop_its_journey() -> None:
    customer = consenting_customer()
    customer.send(order_placed(T0 - timedelta(days=2)))
    visitor = visitor_with_cart()
    assert visitor.state is not None and customer.state is not None
    merged = merge_identified(visitor.state, customer.state)
    (fire,) = fires(fire_due(merged, at(minutes=31), customer.campaigns).actions, CART)
    assert fire.customer_id == "c1"


def test_the_customers_own_open_journey_wins_and_merging_twice_changes_nothing() -> None:
    visitor = visitor_with_cart()
    customer = consenting_customer()
    customer.send(cart_updated(at(minutes=2), cart_id="cart-own"))
    assert visitor.state is not None and customer.state is not None
    once = merge_identified(visitor.state, customer.state)
    assert [j.cart_id for j in once.journeys if j.campaign_id == CART] == ["cart-own"]
    twice = merge_identified(visitor.state, once)
    assert twice.to_bytes() == once.to_bytes()


def test_a_visitor_journey_the_customer_has_since_lived_through_does_not_come_back() -> None:
    """The hand-over arrives after the customer's own events (it travels through a topic)."""
    visitor = Customer()
    visitor.send(viewed(T0, "p9", customer=None, anonymous="v-1"))
    customer = consenting_customer()
    customer.send(viewed(at(minutes=1), "p9"))
    customer.send(added(at(minutes=2), "p9"))
    assert visitor.state is not None and customer.state is not None
    assert open_journeys(visitor.state, "browse_abandonment") != []
    assert open_journeys(customer.state, "browse_abandonment") == []
    merged = merge_identified(visitor.state, customer.state)
    assert open_journeys(merged, "browse_abandonment") == []
