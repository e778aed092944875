"""Abandoned cart: three reminders after the last cart activity; the order stops them."""

from __future__ import annotations

from datetime import timedelta

from services.triggers.campaigns import parse_campaigns
from services.triggers.campaigns.loader import _default_source
from services.triggers.journeys import fire_due
from tests.unit.triggers.builders import (
    T0,
    Customer,
    added,
    at,
    cart_updated,
    checkout_started,
    consenting_customer,
    entries,
    exits,
    expires,
    fires,
    open_journeys,
    order_placed,
    removed,
    subscription,
    with_facts_only,
)

CART = "abandoned_cart"


def test_three_reminders_at_30m_24h_72h_after_the_cart_changed() -> None:
    customer = consenting_customer()
    actions = customer.send(cart_updated(T0))
    assert len(entries(actions, CART)) == 1
    assert not fires(actions, CART)
    customer.run_until(at(days=10))
    assert customer.fired_steps(CART) == ["reminder-1", "reminder-2", "reminder-3"]
    assert customer.fire_times(CART) == [at(minutes=30), at(hours=24), at(hours=72)]
    assert open_journeys(customer.state, CART) == []


def test_reminders_carry_the_cart_and_may_switch_channel() -> None:
    customer = consenting_customer()
    customer.send(cart_updated(T0, products=["p1", "p2"]))
    customer.run_until(at(days=10))
    first, second, third = (fire.data for _, fire in customer.fired(CART))
    assert first.context.cart is not None
    assert [i.product_id for i in first.context.cart.items] == ["p1", "p2"]
    assert first.context.cart.recovery_url == "https://shop.example/cart/cart-1"
    assert first.context.recommendations is not None
    assert first.context.recommendations.strategy == "cart_based"
    assert [c.value for c in first.channels] == ["email"]
    assert second.fallback is not None and second.fallback.channel.value == "sms"
    assert [c.value for c in third.channels] == ["sms", "email"]
    assert not first.transactional
    assert first.expires_at == first.due_at + timedelta(hours=6)


def test_new_cart_activity_restarts_the_clock_of_the_pending_reminder() -> None:
    customer = consenting_customer()
    customer.send(cart_updated(T0))
    customer.run_until(at(hours=1))
    customer.send(added(at(hours=5), "p2"))
    customer.run_until(at(days=10))
    assert customer.fire_times(CART) == [at(minutes=30), at(hours=29), at(hours=77)]
    (_, last) = customer.fired(CART)[-1]
    assert last.data.context.cart is not None
    assert [i.product_id for i in last.data.context.cart.items] == ["p1", "p2"]


def test_an_order_stops_the_reminders_the_moment_it_arrives() -> None:
    customer = consenting_customer()
    customer.send(cart_updated(T0))
    customer.run_until(at(hours=1))
    actions = customer.send(order_placed(at(hours=2)))
    assert exits(actions, CART) == ["order_placed"]
    customer.run_until(at(days=10))
    assert customer.fired_steps(CART) == ["reminder-1"]


def test_the_order_reminder_race_never_sends_the_reminder() -> None:
    """The timer for reminder 1 is already due when the order is processed."""
    customer = consenting_customer()
    customer.send(cart_updated(T0))
    due = at(minutes=30)
    assert customer.state is not None and customer.state.next_due_at() == due
    customer.send(order_placed(at(minutes=29)), now=at(minutes=31))
    assert fires(customer.tick(at(minutes=31)), CART) == []
    assert customer.fired_steps(CART) == []


def test_an_order_in_the_state_is_checked_again_when_the_step_fires() -> None:
    customer = consenting_customer()
    customer.send(cart_updated(T0))
    assert customer.state is not None
    recorded = with_facts_only(customer.state, order_placed(at(minutes=10)))
    decision = fire_due(recorded, at(minutes=30), customer.campaigns)
    assert fires(decision.actions) == []
    assert exits(decision.actions, CART) == ["order_placed"]


def test_emptying_the_cart_exits_at_event_time_and_at_fire_time() -> None:
    customer = consenting_customer()
    customer.send(added(T0, "p1"))
    assert exits(customer.send(removed(at(minutes=5), "p1")), CART) == ["cart_emptied"]
    customer.send(cart_updated(at(hours=1)))
    assert customer.state is not None
    emptied = with_facts_only(customer.state, cart_updated(at(hours=1, minutes=5), products=[]))
    decision = fire_due(emptied, at(hours=2), customer.campaigns)
    assert fires(decision.actions) == [] and exits(decision.actions, CART) == ["cart_emptied"]


def test_opting_out_of_every_channel_it_uses_exits_at_event_and_fire_time() -> None:
    customer = consenting_customer()
    customer.send(cart_updated(T0))
    assert exits(customer.send(subscription(at(minutes=1), "email", False)), CART) == []
    actions = customer.send(subscription(at(minutes=2), "sms", False))
    assert exits(actions, CART) == ["opted_out"]
    again = consenting_customer()
    again.send(cart_updated(T0))
    assert again.state is not None
    state = with_facts_only(again.state, subscription(at(minutes=1), "email", False))
    state = with_facts_only(state, subscription(at(minutes=2), "sms", False))
    decision = fire_due(state, at(minutes=30), again.campaigns)
    assert fires(decision.actions) == [] and exits(decision.actions, CART) == ["opted_out"]


def test_without_marketing_consent_no_journey_starts() -> None:
    customer = Customer()
    customer.send(cart_updated(T0))
    assert open_journeys(customer.state, CART) == []


def test_a_checkout_starts_the_journey_too_and_a_new_cart_after_an_order_reenters() -> None:
    customer = consenting_customer()
    assert len(entries(customer.send(checkout_started(T0)), CART)) == 1
    customer.send(order_placed(at(minutes=10)))
    assert len(entries(customer.send(cart_updated(at(days=1), cart_id="cart-2")), CART)) == 1


def test_a_reminder_found_too_late_is_expired_not_sent() -> None:
    customer = consenting_customer()
    customer.send(cart_updated(T0))
    actions = customer.tick(at(hours=7))
    assert fires(actions, CART) == []
    (expired,) = expires(actions, CART)
    assert expired.data.step_id == "reminder-1"
    assert expired.data.max_lateness_s == 6 * 3600
    customer.run_until(at(days=10))
    assert customer.fired_steps(CART) == ["reminder-2", "reminder-3"]


def test_a_replayed_event_changes_nothing() -> None:
    customer = consenting_customer()
    event = cart_updated(T0)
    customer.send(event)
    before = customer.state
    assert customer.send(event, now=at(minutes=40)) == ()
    assert customer.state is before


def test_fire_due_twice_at_the_same_moment_fires_once() -> None:
    customer = consenting_customer()
    customer.send(cart_updated(T0))
    assert len(fires(customer.tick(at(minutes=30)))) == 1
    assert customer.tick(at(minutes=30)) == ()


def test_trigger_ids_are_the_same_when_the_input_is_replayed_from_the_start() -> None:
    events = [cart_updated(T0), added(at(hours=3), "p2")]

    def run() -> list[str]:
        customer = consenting_customer()
        for event in events:
            customer.send(event)
        customer.run_until(at(days=10))
        return [fire.trigger_id for _, fire in customer.fired(CART)]

    first, second = run(), run()
    assert first == second and len(set(first)) == 3


def test_a_shop_can_override_the_reminders() -> None:
    text = """\
extends: default
campaigns:
  abandoned_cart:
    steps:
      - {id: only, delay: 2h, channels: [sms], template: cart/only}
"""
    campaigns = parse_campaigns(text, "acme.yaml", base=_default_source())
    customer = consenting_customer(campaigns)
    customer.send(cart_updated(T0))
    customer.run_until(at(days=10))
    assert customer.fired_steps(CART) == ["only"]
    assert customer.fire_times(CART) == [at(hours=2)]
