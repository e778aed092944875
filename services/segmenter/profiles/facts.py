"""What a profile says once its orders are added up: the derived figures rules and analysts read.

Computed from the stored `Profile` whenever needed (never stored), so a late, refunded or
cancelled order moves every figure at once. Revenue is net of refunds and cancellations and is
kept per currency: the shop's currency (or, when the shop declares none, the currency of the
customer's first order) is `revenue`; any other currency stays apart in `other_revenue`, never
summed into it.

Archived orders (folded out of the profile beyond MAX_ORDERS) count through `Archived`: their
count and net per currency, first and last time, and their gaps; the gap from the newest
archived order to the oldest kept one joins the two, so the median is the same as if every
order were still kept (up to the last MAX_ORDERS archived gaps).
"""

from __future__ import annotations

import itertools
import statistics
from dataclasses import dataclass, field
from decimal import Decimal

from services.segmenter.profiles.model import Order, Profile

DAY_S = 86_400.0
CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class OrderFacts:
    orders: int
    """Orders placed and not cancelled (a fully refunded order still counts as an order)."""
    currency: str | None
    revenue: Decimal
    """Net revenue (LTV) in `currency`: totals minus refunds, cancelled orders excluded."""
    aov: Decimal | None
    """Average order value in `currency` (None without an order in it)."""
    other_revenue: dict[str, Decimal] = field(default_factory=dict)
    first_order_at: float | None = None
    last_order_at: float | None = None
    repeat_interval_days: float | None = None
    """The median gap between consecutive orders, in days; None with fewer than two orders."""
    repeat_interval_gaps: int = 0
    """How many gaps the median rests on."""


def live_orders(profile: Profile) -> list[Order]:
    """The orders kept one by one that were not cancelled, oldest first."""
    return sorted((o for o in profile.orders if not o.cancelled), key=lambda o: (o.at, o.order_id))


def order_facts(profile: Profile, shop_currency: str | None = None) -> OrderFacts:
    orders = live_orders(profile)
    archived = profile.archived
    net: dict[str, Decimal] = dict(archived.net)
    counts: dict[str, int] = dict(archived.counts)
    for order in orders:
        net[order.currency] = net.get(order.currency, Decimal(0)) + order.total - order.refunded
        counts[order.currency] = counts.get(order.currency, 0) + 1
    first_at, first_currency = archived.first_at, archived.first_currency
    if orders and (first_at is None or orders[0].at < first_at):
        first_at, first_currency = orders[0].at, orders[0].currency
    currency = shop_currency or first_currency
    revenue = net.pop(currency, Decimal(0)) if currency is not None else Decimal(0)
    in_currency = counts.get(currency, 0) if currency is not None else 0
    gaps = list(archived.gaps)
    if orders and archived.last_at is not None:
        gaps.append(max(orders[0].at - archived.last_at, 0.0))
    gaps.extend(b.at - a.at for a, b in itertools.pairwise(orders))
    last_at = orders[-1].at if orders else None
    if archived.last_at is not None and (last_at is None or archived.last_at > last_at):
        last_at = archived.last_at
    return OrderFacts(
        orders=len(orders) + archived.count,
        currency=currency,
        revenue=revenue,
        aov=(revenue / in_currency).quantize(CENT) if in_currency else None,
        other_revenue=net,
        first_order_at=first_at,
        last_order_at=last_at,
        repeat_interval_days=statistics.median(gaps) / DAY_S if gaps else None,
        repeat_interval_gaps=len(gaps),
    )
