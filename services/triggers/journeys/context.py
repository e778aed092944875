"""What a fired step's template needs, built from the state when the step fires.

Built at fire time, not at entry, so that a cart reminder shows the cart as it is now.
"""

from __future__ import annotations

from services.triggers.campaigns.model import Campaign, Kind, Step, Strategy, Variant
from services.triggers.journeys.state import CustomerState, Journey, OrderSummary
from shared.events.shop import LineItem, ProductRef
from shared.events.triggers import (
    CartSnapshot,
    OrderSnapshot,
    RecommendationSeed,
    ShipmentSnapshot,
    TriggerContext,
)
from shared.events.types import Money

MAX_PRODUCTS = 5


def build_context(
    state: CustomerState, journey: Journey, campaign: Campaign, step: Step, variant: Variant | None
) -> TriggerContext:
    kind = campaign.kind
    cart = _cart(state, journey) if kind is Kind.ABANDONED_CART else None
    order = _order(state, journey)
    if kind is Kind.WELCOME and step.condition is not None and state.orders.recent:
        order = state.orders.recent[-1]
    product = ProductRef.model_validate(journey.product) if journey.product else None
    products = _previous_purchases(state) if kind is Kind.SEGMENT_ENTRY else []
    strategy = (variant.recommendations if variant else None) or step.recommendations
    return TriggerContext(
        cart=cart,
        order=_order_snapshot(order) if order is not None else None,
        shipment=ShipmentSnapshot.model_validate(journey.shipment) if journey.shipment else None,
        product=product,
        products=products,
        recommendations=_seed(strategy, cart, order, product, products),
        segment_id=journey.segment_id,
        occasion=campaign.entry.occasion,
        incentive_code=campaign.incentive_code,
    )


def _cart(state: CustomerState, journey: Journey) -> CartSnapshot | None:
    cart = state.cart(journey.cart_id)
    if cart is None:
        return None
    return CartSnapshot(
        cart_id=cart.cart_id if not cart.cart_id.startswith("checkout:") else None,
        items=[LineItem.model_validate(item) for item in cart.items],
        value=Money.model_validate(cart.value) if cart.value else None,
        recovery_url=cart.recovery_url,
    )


def _order(state: CustomerState, journey: Journey) -> OrderSummary | None:
    if journey.order_id is None:
        return None
    for summary in state.orders.recent:
        if summary.order_id == journey.order_id:
            return summary
    return None


def _order_snapshot(order: OrderSummary) -> OrderSnapshot:
    return OrderSnapshot(
        order_id=order.order_id,
        order_number=order.order_number,
        items=[LineItem.model_validate(item) for item in order.items],
        total=Money.model_validate(order.total),
        status_url=order.status_url,
        first_order=order.first_order,
    )


def _previous_purchases(state: CustomerState) -> list[ProductRef]:
    """What they bought before (newest first), for win-back and VIP messages."""
    found: dict[str, ProductRef] = {}
    for order in reversed(state.orders.recent):
        for item in order.items:
            if item["product_id"] not in found and len(found) < MAX_PRODUCTS:
                found[item["product_id"]] = ProductRef.model_validate(_ref(item))
    return list(found.values())


def _seed(
    strategy: Strategy | None,
    cart: CartSnapshot | None,
    order: OrderSummary | None,
    product: ProductRef | None,
    products: list[ProductRef],
) -> RecommendationSeed | None:
    if strategy is None:
        return None
    refs: list[ProductRef] = list(products)
    if cart is not None:
        refs.extend(cart.items)
    if order is not None:
        refs.extend(ProductRef.model_validate(_ref(i)) for i in order.items)
    if product is not None:
        refs.append(product)
    ids = list(dict.fromkeys(r.product_id for r in refs))[:50]
    categories = list(dict.fromkeys(r.category for r in refs if r.category))[:20]
    return RecommendationSeed(strategy=strategy, product_ids=ids, categories=categories)


def _ref(item: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in item.items() if k != "quantity"}
