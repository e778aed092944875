"""Welcome series: step 1 at once, then +1d, +3d, +5d, +7d; it branches when they buy."""

from __future__ import annotations

from services.triggers.journeys import fire_due
from tests.unit.triggers.builders import (
    T0,
    Customer,
    at,
    customer_created,
    entries,
    exits,
    fires,
    order_placed,
    subscription,
    with_facts_only,
)

WELCOME = "welcome"


def test_a_consenting_sign_up_gets_the_welcome_at_once() -> None:
    customer = Customer()
    (fire,) = fires(customer.send(customer_created(T0)), WELCOME)
    assert fire.data.step_id == "welcome"
    assert fire.data.context.incentive_code == "WELCOME10"


def test_the_series_for_someone_who_does_not_buy() -> None:
    customer = Customer()
    customer.send(customer_created(T0))
    customer.run_until(at(days=30))
    assert customer.fired_steps(WELCOME) == [
        "welcome",
        "brand-story",
        "how-to-use",
        "reviews",
        "news",
    ]
    assert customer.fire_times(WELCOME) == [T0, at(days=1), at(days=3), at(days=5), at(days=7)]


def test_buying_during_the_series_takes_the_other_branch() -> None:
    customer = Customer()
    customer.send(customer_created(T0))
    customer.send(order_placed(at(hours=3)))
    customer.run_until(at(days=30))
    assert customer.fired_steps(WELCOME) == ["welcome", "order-on-its-way", "how-to-use", "news"]
    (_, on_its_way) = customer.fired(WELCOME)[1]
    assert on_its_way.data.context.order is not None


def test_the_branch_is_decided_from_the_state_when_the_step_fires() -> None:
    customer = Customer()
    customer.send(customer_created(T0))
    assert customer.state is not None
    bought = with_facts_only(customer.state, order_placed(at(hours=3)))
    decision = fire_due(bought, at(days=1), customer.campaigns)
    assert [f.data.step_id for f in fires(decision.actions)] == ["order-on-its-way"]


def test_no_consent_no_series_until_they_subscribe() -> None:
    customer = Customer()
    assert entries(customer.send(customer_created(T0, consent=None)), WELCOME) == []
    (fire,) = fires(customer.send(subscription(at(minutes=5), "email", True)), WELCOME)
    assert fire.data.step_id == "welcome"


def test_the_series_is_entered_once_in_a_lifetime() -> None:
    customer = Customer()
    customer.send(customer_created(T0))
    customer.run_until(at(days=30))
    customer.send(subscription(at(days=40), "sms", True))
    assert len(entries([action for _, action in customer.log], WELCOME)) == 1


def test_unsubscribing_ends_the_series_at_event_and_fire_time() -> None:
    customer = Customer()
    customer.send(customer_created(T0))
    customer.send(subscription(at(hours=1), "email", False))
    actions = customer.send(subscription(at(hours=2), "sms", False))
    assert exits(actions, WELCOME) == ["opted_out"]
    other = Customer()
    other.send(customer_created(T0))
    assert other.state is not None
    state = with_facts_only(other.state, subscription(at(hours=1), "email", False))
    state = with_facts_only(state, subscription(at(hours=1), "sms", False))
    decision = fire_due(state, at(days=1), other.campaigns)
    assert fires(decision.actions) == [] and exits(decision.actions, WELCOME) == ["opted_out"]
