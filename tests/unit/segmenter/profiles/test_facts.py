"""Order facts: counts, revenue per currency, AOV, first/last order and the repeat interval,
the same whether the orders are kept one by one or folded into the archive."""

from __future__ import annotations

import itertools
import statistics
from decimal import Decimal

import msgspec

from services.segmenter.profiles.facts import DAY_S, order_facts
from services.segmenter.profiles.model import MAX_ORDERS, Archived, Order, Profile
from tests.support import segmenter_events as ev
from tests.support.segmenter_events import at, seconds
from tests.unit.segmenter.profiles.builders import facts, run

MANY = MAX_ORDERS + 15


def _order(i: int, day: float, total: str = "10.00", currency: str = "EUR") -> Order:
    return Order(order_id=f"o{i}", at=seconds(at(day)), total=Decimal(total), currency=currency)


def _days(n: int) -> list[float]:
    """Irregular order days (gaps of 1 to 3 days, and 5 more every 7th) so that the median
    means something."""
    days, day = [], 0.0
    for i in range(n):
        days.append(day)
        day += 1 + i % 3 + (5 if i % 7 == 0 else 0)
    return days


def test_no_orders_no_figures() -> None:
    found = order_facts(Profile(shop_id="s1"), "EUR")
    assert (found.orders, found.revenue, found.aov) == (0, Decimal(0), None)
    assert (found.first_order_at, found.last_order_at, found.repeat_interval_days) == (
        None,
        None,
        None,
    )
    assert found.repeat_interval_gaps == 0


def test_the_repeat_interval_is_the_median_gap_with_its_count() -> None:
    three = Profile(shop_id="s1", orders=[_order(1, 0), _order(2, 4), _order(3, 30)])
    assert (facts(three).repeat_interval_days, facts(three).repeat_interval_gaps) == (15.0, 2)
    four = Profile(shop_id="s1", orders=[*three.orders, _order(4, 32)])
    assert (facts(four).repeat_interval_days, facts(four).repeat_interval_gaps) == (4.0, 3)
    one = Profile(shop_id="s1", orders=[_order(1, 0)])
    assert (facts(one).repeat_interval_days, facts(one).repeat_interval_gaps) == (None, 0)


def test_a_cancelled_order_is_no_step_in_the_interval() -> None:
    cancelled = Order(order_id="x", at=seconds(at(5)), total=Decimal(9), currency="EUR")
    profile = Profile(
        shop_id="s1",
        orders=[_order(1, 0), msgspec.structs.replace(cancelled, cancelled=True), _order(2, 20)],
    )
    assert (facts(profile).repeat_interval_days, facts(profile).orders) == (20.0, 2)


def test_orders_beyond_the_bound_fold_into_the_archive_and_every_figure_stays() -> None:
    days = _days(MANY)
    events = [
        ev.order_placed(order_id=f"o{i}", total=f"{10 + i % 5}.00", at=at(day))
        for i, day in enumerate(days)
    ]
    events.insert(0, ev.order_placed(order_id="usd", total="7.00", currency="USD", at=at(3.5)))
    profile = run(*events)
    assert len(profile.orders) == MAX_ORDERS
    assert profile.archived.count > 0
    found = facts(profile)
    all_days = sorted([*days, 3.5])
    gaps = [b - a for a, b in itertools.pairwise(all_days)]
    assert found.orders == MANY + 1
    assert found.revenue == sum(Decimal(10 + i % 5) for i in range(MANY))
    assert found.aov == (found.revenue / MANY).quantize(Decimal("0.01"))
    assert found.other_revenue == {"USD": Decimal("7.00")}
    assert found.first_order_at == seconds(at(0))
    assert found.last_order_at == seconds(at(days[-1]))
    assert found.repeat_interval_gaps == len(gaps)
    assert found.repeat_interval_days == statistics.median(gaps)


def test_a_late_order_among_the_kept_ones_moves_the_interval_after_the_fold() -> None:
    days = _days(MANY)
    in_order = [ev.order_placed(order_id=f"o{i}", at=at(d)) for i, d in enumerate(days)]
    late_day = days[-3] + 0.5  # between two kept orders
    late = ev.order_placed(order_id="late", at=at(late_day))
    profile = run(*in_order, late)
    expected_days = sorted([*days, late_day])
    gaps = [b - a for a, b in itertools.pairwise(expected_days)]
    found = facts(profile)
    assert found.orders == MANY + 1
    assert (found.repeat_interval_days, found.repeat_interval_gaps) == (
        statistics.median(gaps),
        len(gaps),
    )


def test_an_order_older_than_the_archive_still_counts() -> None:
    days = [float(d) for d in range(10, 10 + MANY)]
    profile = run(*(ev.order_placed(order_id=f"o{i}", at=at(d)) for i, d in enumerate(days)))
    ancient = run(ev.order_placed(order_id="first", total="99.00", at=at(0)), start=profile)
    found = facts(ancient)
    assert found.orders == MANY + 1
    assert found.revenue == Decimal(20 * MANY + 99)
    assert found.first_order_at == seconds(at(0))
    assert len(ancient.orders) == MAX_ORDERS
    # the stated limit (orders.py): its gap to the archived orders cannot be placed
    assert found.repeat_interval_gaps == facts(profile).repeat_interval_gaps


def test_cancelled_and_refunded_orders_fold_at_their_net() -> None:
    days = _days(MANY)
    events: list[object] = [ev.order_placed(order_id=f"o{i}", at=at(d)) for i, d in enumerate(days)]
    events[1:1] = [ev.order_cancelled(order_id="o0", at=at(1))]
    events[2:2] = [ev.order_refunded(order_id="o1", amount="20.00", at=at(1))]
    profile = run(*events)
    assert profile.archived.count == MANY - MAX_ORDERS - 1  # o0, cancelled, counts nowhere
    found = facts(profile)
    assert found.orders == MANY - 1
    assert found.revenue == Decimal(20 * (MANY - 2))
    assert found.first_order_at == seconds(at(days[1]))


def test_the_gap_between_the_archive_and_the_kept_orders_counts() -> None:
    archived = Archived(
        count=2,
        counts={"EUR": 2},
        net={"EUR": Decimal(30)},
        first_at=seconds(at(0)),
        first_currency="EUR",
        last_at=seconds(at(10)),
        gaps=(10 * DAY_S,),
    )
    profile = Profile(shop_id="s1", orders=[_order(3, 40), _order(4, 41)], archived=archived)
    found = facts(profile)
    assert (found.orders, found.revenue, found.aov) == (4, Decimal(50), Decimal("12.50"))
    assert (found.repeat_interval_days, found.repeat_interval_gaps) == (10.0, 3)  # 10, 30, 1
    assert (found.first_order_at, found.last_order_at) == (seconds(at(0)), seconds(at(41)))


def test_with_every_kept_order_cancelled_the_archive_still_says_when() -> None:
    archived = Archived(
        count=1,
        counts={"USD": 1},
        net={"USD": Decimal(30)},
        first_at=seconds(at(0)),
        first_currency="USD",
        last_at=seconds(at(0)),
    )
    cancelled = msgspec.structs.replace(_order(2, 5), cancelled=True)
    profile = Profile(shop_id="s1", orders=[cancelled], archived=archived)
    found = order_facts(profile, None)
    assert (found.orders, found.currency, found.revenue) == (1, "USD", Decimal(30))
    assert found.last_order_at == seconds(at(0))
    eur = order_facts(profile, "EUR")
    assert (eur.revenue, eur.aov, eur.other_revenue) == (Decimal(0), None, {"USD": Decimal(30)})


def test_the_average_counts_only_orders_in_its_currency_across_the_archive() -> None:
    archived = Archived(
        count=3,
        counts={"EUR": 1, "USD": 2},
        net={"EUR": Decimal(10), "USD": Decimal(100)},
        first_at=seconds(at(0)),
        first_currency="EUR",
        last_at=seconds(at(2)),
    )
    profile = Profile(shop_id="s1", orders=[_order(4, 3, total="20.00")], archived=archived)
    found = facts(profile)
    assert (found.revenue, found.aov) == (Decimal(30), Decimal(15))
