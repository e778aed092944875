"""Customers' timelines: pure and reproducible, in time order, prefixes of longer runs, and
true to each customer's propensities over a large population."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from statistics import fmean
from zoneinfo import ZoneInfo

import pytest

from services.simulator.behaviour import (
    SHOP_SIDE,
    WAKING_HOURS,
    Action,
    Checkout,
    Kind,
    Order,
    Shipment,
    ShipmentUpdate,
    merge,
    play,
    session_starts,
    timeline,
)
from services.simulator.population import Customer, population

SHOPS = ("sim-shopify", "sim-segment", "sim-native")
START = datetime(2026, 12, 7, 6, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def people() -> list[Customer]:
    return population(5, SHOPS, 3000)


@pytest.fixture(scope="module")
def lives(people: list[Customer]) -> list[list[Action]]:
    return [timeline(c, START, 7) for c in people]


def test_the_same_customer_and_start_give_the_same_timeline(people: list[Customer]) -> None:
    for person in people[:50]:
        assert timeline(person, START, 7) == timeline(person, START, 7)


def test_customer_k_lives_the_same_in_a_population_of_10_or_1000() -> None:
    small = population(5, SHOPS, 10)
    large = population(5, SHOPS, 1000)
    for k in range(10):
        assert timeline(small[k], START, 7) == timeline(large[k], START, 7)


def test_a_longer_run_begins_with_the_shorter_ones_actions(people: list[Customer]) -> None:
    for person in people[:300]:
        short = timeline(person, START, 3)
        long = timeline(person, START, 10)
        assert long[: len(short)] == short
        assert all(a.at >= START + timedelta(days=3) for a in long[len(short) :])


def test_timelines_are_in_time_order_within_the_run(lives: list[list[Action]]) -> None:
    end = START + timedelta(days=7)
    for life in lives:
        assert [a.seq for a in life] == list(range(len(life)))
        assert all(START <= a.at < end for a in life)
        assert all(a.at <= b.at for a, b in pairwise(life))


def test_merge_is_in_time_order_and_stable(lives: list[list[Action]]) -> None:
    merged = list(merge(lives))
    assert len(merged) == sum(len(life) for life in lives)
    assert all(a.at <= b.at for a, b in pairwise(merged))
    position = {id(a): i for i, a in enumerate(merged)}
    for life in lives:
        assert [position[id(a)] for a in life] == sorted(position[id(a)] for a in life)
    tied = list(merge([[a] for a in lives[0][:1] * 3]))
    assert tied == lives[0][:1] * 3


def test_play_gives_the_merged_timelines_computing_each_when_due(
    people: list[Customer], lives: list[list[Action]]
) -> None:
    assert list(play(people, START, 7)) == list(merge(lives))


def test_a_new_customer_first_signs_up_and_an_earlier_one_first_shows_a_profile(
    people: list[Customer], lives: list[list[Action]]
) -> None:
    for person, life in zip(people, lives, strict=True):
        own = [a for a in life if a.kind not in SHOP_SIDE]
        kinds = [a.kind for a in own]
        if not own:
            continue
        if person.joins_after is None:
            assert kinds[0] is Kind.PROFILE
            assert Kind.SIGNED_UP not in kinds
        else:
            assert kinds[0] is Kind.SIGNED_UP
            assert own[0].at == START + person.joins_after
            assert Kind.PROFILE not in kinds
        assert kinds.count(Kind.PROFILE) + kinds.count(Kind.SIGNED_UP) == 1


def test_sessions_fall_in_the_customers_waking_hours(people: list[Customer]) -> None:
    low, high = WAKING_HOURS
    for person in people[:500]:
        zone = ZoneInfo(person.time_zone)
        for moment in session_starts(person, START, START + timedelta(days=7)):
            local = moment.astimezone(zone)
            assert low <= local.hour + local.minute / 60 < high


def test_a_customer_who_goes_quiet_does_nothing_more_but_the_shop_still_ships(
    people: list[Customer], lives: list[list[Action]]
) -> None:
    quiet = 0
    for person, life in zip(people, lives, strict=True):
        if person.quiet_after is None:
            continue
        moment = START + person.quiet_after
        after = [a for a in life if a.at >= moment]
        assert all(a.kind in SHOP_SIDE for a in after)
        quiet += bool(after)
    assert quiet > 0, "some parcels should arrive after their buyer went quiet"


def test_every_order_is_shipped_then_delivered_or_cancelled(lives: list[list[Action]]) -> None:
    for life in lives:
        for action in life:
            if action.kind is not Kind.ORDER_PLACED:
                continue
            assert isinstance(action.detail, Order)
            later = [a for a in life if a.at >= action.at and a.kind in SHOP_SIDE]
            mine = [a for a in later if _order_of(a) == action.detail.order_id]
            kinds = [a.kind for a in mine]
            assert kinds in (
                [Kind.ORDER_CANCELLED],
                [Kind.SHIPPED, Kind.OUT_FOR_DELIVERY, Kind.DELIVERED][: len(kinds)],
            )


def _order_of(action: Action) -> str | None:
    detail = action.detail
    if isinstance(detail, Shipment):
        return detail.order.order_id
    if isinstance(detail, ShipmentUpdate):
        return detail.shipment.order.order_id
    if action.kind is Kind.ORDER_CANCELLED:
        return detail.order.order_id  # type: ignore[union-attr]
    return None


def test_sessions_come_at_each_customers_own_rate(people: list[Customer]) -> None:
    days = 28
    expected = sum(p.sessions_per_week * days / 7 for p in people)
    found = sum(len(session_starts(p, START, START + timedelta(days=days))) for p in people)
    assert found == pytest.approx(expected, rel=0.05)


def test_checkouts_are_left_unpaid_about_as_often_as_customers_tend_to(
    people: list[Customer], lives: list[list[Action]]
) -> None:
    """Loose: comebacks and repeat purchases add checkouts that are always paid."""
    started = paid = 0
    for life in lives:
        orders = {a.detail.checkout.checkout_id for a in life if isinstance(a.detail, Order)}
        checkouts = [a.detail for a in life if isinstance(a.detail, Checkout)]
        started += len(checkouts)
        paid += sum(c.checkout_id in orders for c in checkouts)
    abandoned = 1 - paid / started
    mean = fmean(p.abandon_probability for p in people)
    assert 0.6 * mean < abandoned < 1.05 * mean


def test_repeat_buyers_buy_more_often_than_one_time_buyers(
    people: list[Customer],
) -> None:
    counts: dict[bool, list[int]] = {True: [], False: []}
    for person in people[:1500]:
        life = timeline(person, START, 60)
        orders = sum(a.kind is Kind.ORDER_PLACED for a in life)
        counts[person.repeat_interval is not None].append(orders)
    assert fmean(counts[True]) > 1.3 * fmean(counts[False])


def test_a_week_shows_every_kind_of_action(lives: list[list[Action]]) -> None:
    kinds = Counter(a.kind for life in lives for a in life)
    assert set(kinds) == set(Kind)
    assert kinds[Kind.VIEWED] > kinds[Kind.ADDED_TO_CART] > kinds[Kind.ORDER_PLACED]


def test_a_start_without_a_time_zone_is_refused(people: list[Customer]) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        timeline(people[0], START.replace(tzinfo=None), 7)
