"""Browse abandonment: once, an hour after the last view; not if they add to cart or buy."""

from __future__ import annotations

from services.triggers.journeys import fire_due
from tests.unit.triggers.builders import (
    T0,
    added,
    at,
    consenting_customer,
    entries,
    exits,
    fires,
    order_placed,
    viewed,
    with_facts_only,
)

BROWSE = "browse_abandonment"


def test_one_reminder_an_hour_after_the_last_view_about_that_product() -> None:
    customer = consenting_customer()
    customer.send(viewed(T0, "p1"))
    customer.send(viewed(at(minutes=20), "p2"))
    customer.run_until(at(days=2))
    assert customer.fire_times(BROWSE) == [at(minutes=80)]
    (_, fire) = customer.fired(BROWSE)[0]
    assert fire.data.context.product is not None
    assert fire.data.context.product.product_id == "p2"
    assert fire.data.context.recommendations is not None
    assert fire.data.context.recommendations.categories == ["coffee"]


def test_adding_to_cart_or_buying_exits_at_event_time() -> None:
    customer = consenting_customer()
    customer.send(viewed(T0))
    assert exits(customer.send(added(at(minutes=5))), BROWSE) == ["added_to_cart"]
    other = consenting_customer()
    other.send(viewed(T0))
    assert exits(other.send(order_placed(at(minutes=5))), BROWSE) == ["order_placed"]


def test_adding_to_cart_or_buying_is_checked_again_at_fire_time() -> None:
    for event in (added(at(minutes=5)), order_placed(at(minutes=5))):
        customer = consenting_customer()
        customer.send(viewed(T0))
        assert customer.state is not None
        decision = fire_due(with_facts_only(customer.state, event), at(hours=1), customer.campaigns)
        assert fires(decision.actions) == []


def test_re_entry_is_limited_to_once_a_week() -> None:
    customer = consenting_customer()
    customer.send(viewed(T0))
    customer.run_until(at(days=1))
    assert entries(customer.send(viewed(at(days=3))), BROWSE) == []
    assert len(entries(customer.send(viewed(at(days=7, hours=1))), BROWSE)) == 1
