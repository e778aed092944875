"""Replenishment: when a consumable should run out; the customer's own rhythm once known."""

from __future__ import annotations

from services.triggers.journeys import fire_due
from tests.unit.triggers.builders import (
    T0,
    at,
    consenting_customer,
    entries,
    exits,
    fires,
    order_cancelled,
    order_placed,
    with_facts_only,
)

REFILL = "replenishment"


def test_a_coffee_reminder_after_the_categorys_30_days_and_a_last_call_5_days_later() -> None:
    customer = consenting_customer()
    customer.send(order_placed(T0, products=[("beans", "coffee"), ("mug", "kitchen")]))
    customer.run_until(at(days=60))
    assert customer.fired_steps(REFILL) == ["reminder", "last-call"]
    assert customer.fire_times(REFILL) == [at(days=30), at(days=35)]
    (_, fire) = customer.fired(REFILL)[0]
    assert fire.data.journey_id == "beans@o-1"
    assert fire.data.context.product is not None
    assert fire.data.context.product.product_id == "beans"
    assert fire.data.context.incentive_code == "REFILL5"


def test_products_without_a_consumption_period_get_no_reminder() -> None:
    customer = consenting_customer()
    assert entries(customer.send(order_placed(T0, products=[("mug", "kitchen")])), REFILL) == []


def test_the_customers_own_interval_wins_once_two_purchases_are_known() -> None:
    customer = consenting_customer()
    customer.send(order_placed(T0, "o-1", products=[("beans", "coffee")]))
    actions = customer.send(order_placed(at(days=20), "o-2", products=[("beans", "coffee")]))
    assert exits(actions, REFILL) == ["repurchased"]
    assert entries(actions, REFILL) == ["beans@o-2"]
    customer.run_until(at(days=44))
    assert customer.fire_times(REFILL) == [at(days=40)]  # 20 days after o-2, not 30


def test_buying_it_again_is_checked_at_fire_time() -> None:
    customer = consenting_customer()
    customer.send(order_placed(T0, "o-1", products=[("beans", "coffee")]))
    assert customer.state is not None
    state = with_facts_only(customer.state, order_placed(at(days=29), "o-2", [("beans", "coffee")]))
    decision = fire_due(state, at(days=30), customer.campaigns)
    assert fires(decision.actions, REFILL) == []
    assert exits(decision.actions, REFILL) == ["repurchased"]


def test_a_cancelled_order_cancels_its_reminders() -> None:
    customer = consenting_customer()
    customer.send(order_placed(T0, products=[("beans", "coffee")]))
    assert exits(customer.send(order_cancelled(at(hours=1))), REFILL) == ["order_cancelled"]
