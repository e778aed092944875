"""Post-purchase cross-sell: +7d, then +3d later if they did not buy again."""

from __future__ import annotations

from services.triggers.journeys import fire_due
from tests.unit.triggers.builders import (
    T0,
    at,
    consenting_customer,
    exits,
    fires,
    order_cancelled,
    order_placed,
    with_facts_only,
)

CROSS = "cross_sell"


def test_recommendations_a_week_after_the_order_and_a_follow_up_three_days_later() -> None:
    customer = consenting_customer()
    customer.send(order_placed(T0))
    customer.run_until(at(days=30))
    assert customer.fired_steps(CROSS) == ["recommendations", "with-reviews"]
    assert customer.fire_times(CROSS) == [at(days=7), at(days=10)]
    (_, first) = customer.fired(CROSS)[0]
    assert first.data.context.recommendations is not None
    assert first.data.context.recommendations.categories == ["coffee"]


def test_a_new_order_ends_it_and_starts_the_next_one() -> None:
    customer = consenting_customer()
    customer.send(order_placed(T0, "o-1"))
    customer.run_until(at(days=8))
    assert exits(customer.send(order_placed(at(days=8), "o-2")), CROSS) == ["order_placed"]
    customer.run_until(at(days=30))
    journeys = [fire.data.journey_id for _, fire in customer.fired(CROSS)]
    assert journeys == ["order:o-1", "order:o-2", "order:o-2"]


def test_a_new_order_is_checked_again_at_fire_time() -> None:
    customer = consenting_customer()
    customer.send(order_placed(T0, "o-1"))
    assert customer.state is not None
    state = with_facts_only(customer.state, order_placed(at(days=6), "o-2"))
    decision = fire_due(state, at(days=7), customer.campaigns)
    assert fires(decision.actions, CROSS) == []
    assert exits(decision.actions, CROSS) == ["order_placed"]


def test_a_cancelled_order_gets_no_recommendations() -> None:
    customer = consenting_customer()
    customer.send(order_placed(T0))
    assert exits(customer.send(order_cancelled(at(hours=1))), CROSS) == ["order_cancelled"]
