"""The state: compact round trip, bounded size, untouched inputs, replays that do nothing."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from services.triggers.journeys import CustomerState, decide
from services.triggers.journeys.actions import Action
from services.triggers.journeys.state import (
    MAX_CART_ITEMS,
    MAX_OPEN_PER_CAMPAIGN,
    MAX_SEEN_EVENTS,
    MAX_VIEWS,
)
from tests.unit.triggers.builders import (
    T0,
    added,
    at,
    cart_updated,
    consenting_customer,
    exits,
    opened,
    order_placed,
    viewed,
)


def busy_customer() -> CustomerState:
    customer = consenting_customer()
    for n in range(200):
        customer.send(viewed(at(minutes=n), f"p{n}"))
        customer.send(added(at(minutes=n, seconds=30), f"p{n}"))
    customer.send(order_placed(at(hours=5)))
    customer.send(cart_updated(at(hours=6), products=[f"p{n}" for n in range(60)]))
    assert customer.state is not None
    return customer.state


def test_the_state_round_trips_through_bytes() -> None:
    state = busy_customer()
    assert CustomerState.from_bytes(state.to_bytes()) == state


def test_every_list_in_the_state_is_capped() -> None:
    state = busy_customer()
    assert len(state.views) == MAX_VIEWS
    assert len(state.seen) == MAX_SEEN_EVENTS
    assert all(len(cart.items) <= MAX_CART_ITEMS for cart in state.carts)
    assert len(state.to_bytes()) < 32_000


def test_decide_works_on_the_state_it_is_given_and_copy_keeps_the_old_one() -> None:
    customer = consenting_customer()
    customer.send(cart_updated(T0))
    assert customer.state is not None
    kept = customer.state.copy()
    before = kept.to_bytes()
    decision = decide(customer.state, order_placed(at(hours=1)), at(hours=1), customer.campaigns)
    assert decision.state is customer.state
    assert kept.to_bytes() == before and decision.state.to_bytes() != before


def test_events_that_decide_nothing_leave_the_state_as_it_was() -> None:
    customer = consenting_customer()
    assert customer.state is not None
    before = customer.state
    assert customer.send(opened(T0)) == ()
    assert customer.state is before


def test_next_due_at_is_the_earliest_pending_step() -> None:
    customer = consenting_customer()
    customer.send(cart_updated(T0))
    customer.send(viewed(at(minutes=1)))
    assert customer.state is not None
    assert customer.state.next_due_at() == T0 + timedelta(minutes=30)


def test_replaying_the_whole_input_creates_no_new_triggers() -> None:
    customer = consenting_customer()
    events = [cart_updated(T0), viewed(at(minutes=5)), order_placed(at(hours=2))]
    for event in events:
        customer.send(event)
    customer.run_until(at(days=30))
    fired = {fire.trigger_id for _, fire in customer.fired()}
    replayed = [customer.send(event, now=at(days=30)) for event in events]
    assert replayed == [(), (), ()]
    assert {fire.trigger_id for _, fire in customer.fired()} == fired


def test_a_burst_of_orders_keeps_each_campaigns_open_journeys_bounded() -> None:
    customer = consenting_customer()
    orders = [f"o-{n}" for n in range(3 * MAX_OPEN_PER_CAMPAIGN)]
    actions: list[Action] = []
    for n, order_id in enumerate(orders):
        products = [(f"p{n}-{k}", "coffee") for k in range(3)]
        actions += customer.send(order_placed(at(minutes=n), order_id, products))
    assert customer.state is not None

    per_campaign = Counter(journey.campaign_id for journey in customer.state.journeys)
    assert per_campaign and max(per_campaign.values()) == MAX_OPEN_PER_CAMPAIGN
    crowded = [c for c, open_now in per_campaign.items() if open_now == MAX_OPEN_PER_CAMPAIGN]
    for campaign_id in crowded:
        assert "superseded" in exits(actions, campaign_id)  # said, not silently dropped
        newest = {j.order_id for j in customer.state.journeys if j.campaign_id == campaign_id}
        assert orders[-1] in newest and orders[0] not in newest
    assert len(customer.state.to_bytes()) < 64_000
