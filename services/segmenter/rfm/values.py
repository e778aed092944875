"""The three values RFM ranks, taken from a customer's `OrderFacts`: when they last ordered,
how many orders, and their net revenue in the shop's currency (`OrderFacts.revenue`; revenue in
any other currency, `other_revenue`, plays no part). A customer without an order has none."""

from __future__ import annotations

from dataclasses import dataclass

from services.segmenter.profiles.facts import OrderFacts


@dataclass(frozen=True, slots=True)
class RfmValues:
    last_order_at: float
    """Unix seconds: more recent is better."""
    orders: float
    revenue: float
    """Net revenue in `currency` as a float, the form the sketches hold: equal decimals give
    equal floats, so customers with the same revenue always get the same score."""
    currency: str


def rfm_values(facts: OrderFacts) -> RfmValues | None:
    """None for a customer without an order, and for one whose only orders left are archived
    ones (every order kept one by one cancelled): without a last order time there is no
    recency."""
    if facts.orders <= 0 or facts.last_order_at is None or facts.currency is None:
        return None
    return RfmValues(
        last_order_at=facts.last_order_at,
        orders=float(facts.orders),
        revenue=float(facts.revenue),
        currency=facts.currency,
    )
