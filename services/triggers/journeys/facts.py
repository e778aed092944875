"""Fold one event into the customer's facts (carts, views, orders, consent, segments...).

Consent is only what the customer stated (the shop's profile, a subscription change, an
opt-out or opt-in through feedback). What feedback reports about an address (a complaint, a
hard bounce, repeated soft bounces) is a suppression, apart, until an operator clears it.

Only facts here: journeys are entered, moved and closed in `decide.py`, from these facts, so
that the same tests (exit rules) can run when the event arrives and again when a step fires.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from services.triggers.journeys.state import (
    MAX_CART_ITEMS,
    MAX_CARTS,
    MAX_ORDER_IDS,
    MAX_ORDER_ITEMS,
    MAX_PRODUCTS,
    MAX_PURCHASE_TIMES,
    MAX_RECENT_ORDERS,
    MAX_SEGMENTS,
    MAX_SURVEYS,
    MAX_VIEWS,
    Cart,
    ChannelConsent,
    CustomerState,
    Json,
    OrderSummary,
    ProductPurchases,
    Suppressed,
    Suppression,
    View,
    category_key,
    epoch,
    keep_last,
)
from shared.events import catalog as shop
from shared.events import feedback, segments
from shared.events.shop import (
    CheckoutStarted,
    ConsentStatus,
    CustomerData,
    LineItem,
    SubscriptionStatus,
)
from shared.events.types import Model, add_amounts

DEFAULT_CART = "cart"
"""Cart id for `product.added` / `product.removed` events that name none."""


def dump(model: Model) -> Json:
    return model.model_dump(mode="json", exclude_none=True)


def line_key(item: Json) -> tuple[Any, Any]:
    return item["product_id"], item.get("variant_id")


def set_consent(state: CustomerState, channel: str, granted: bool, at: int) -> None:
    """Record a consent statement unless a newer one is already known (a stale sync from the
    shop must not undo an SMS STOP)."""
    known = state.contact.consent.get(channel)
    if known is None or at >= known.at:
        state.contact.consent[channel] = ChannelConsent(granted=granted, at=at)


def suppress(state: CustomerState, channel: str, scope: str, reason: str, at: int) -> None:
    """Record that feedback reported the channel's address unusable for `scope` (`all` or
    `marketing`) at `at`; the newest report of a scope wins. It counts only while newer than
    the last clearing (`Suppression.counts`): a report delivered again stays cleared."""
    suppression = state.contact.suppressions.setdefault(channel, Suppression())
    known = suppression.scopes.get(scope)
    if known is None or at >= known.at:
        suppression.scopes[scope] = Suppressed(at=at, reason=reason)


def clear_suppressions(state: CustomerState, channel: str, at: int) -> None:
    """An operator cleared the channel's address at `at`: every report up to then stops
    counting, one after it still counts (a clearing that arrives late clears no newer one)."""
    suppression = state.contact.suppressions.setdefault(channel, Suppression())
    if suppression.cleared_at is None or at > suppression.cleared_at:
        suppression.cleared_at = at


def _customer(state: CustomerState, data: CustomerData) -> None:
    if data.time_zone is not None:
        state.contact.time_zone = data.time_zone
    if data.birthday is not None:
        state.contact.birthday = data.birthday.isoformat()
    for channel, given in (("email", data.consent.email), ("sms", data.consent.sms)):
        if given is not None:
            granted = given.status is ConsentStatus.GRANTED
            set_consent(state, channel, granted, epoch(given.recorded_at))


def _customer_created(state: CustomerState, event: shop.CustomerCreatedEvent) -> None:
    _customer(state, event.data)


def _customer_updated(state: CustomerState, event: shop.CustomerUpdatedEvent) -> None:
    _customer(state, event.data)


def _viewed(state: CustomerState, event: shop.ProductViewedEvent) -> None:
    product = event.data.product
    state.views = [v for v in state.views if v.product_id != product.product_id]
    state.views.append(
        View(product_id=product.product_id, category=product.category, at=epoch(event.time))
    )
    keep_last(state.views, MAX_VIEWS)


def _cart_for(state: CustomerState, cart_id: str | None, at: int) -> Cart:
    """The named cart, else the latest one, else a new one; it becomes the latest."""
    cart = state.cart(cart_id) if cart_id is not None else None
    if cart is None and cart_id is None and state.carts:
        cart = state.carts[-1]
    if cart is None:
        cart = Cart(cart_id=cart_id or DEFAULT_CART, items=[], at=at)
    else:
        state.carts.remove(cart)
    state.carts.append(cart)
    keep_last(state.carts, MAX_CARTS)
    return cart


def _added(state: CustomerState, event: shop.ProductAddedEvent) -> None:
    at = epoch(event.time)
    cart = _cart_for(state, event.data.cart_id, at)
    item = dump(event.data.item)
    for line in cart.items:
        if line_key(line) == line_key(item):
            line["quantity"] = line.get("quantity", 1) + item.get("quantity", 1)
            break
    else:
        cart.items.append(item)
        keep_last(cart.items, MAX_CART_ITEMS)
    cart.at = max(cart.at, at)
    state.last_cart_add_seq = state.seq


def _removed(state: CustomerState, event: shop.ProductRemovedEvent) -> None:
    at = epoch(event.time)
    cart = _cart_for(state, event.data.cart_id, at)
    gone = dump(event.data.item)
    for line in cart.items:
        if line_key(line) == line_key(gone):
            line["quantity"] = line.get("quantity", 1) - gone.get("quantity", 1)
            if line["quantity"] <= 0:
                cart.items.remove(line)
            break
    cart.at = max(cart.at, at)


def _replace_cart(
    state: CustomerState,
    cart_id: str,
    items: list[LineItem],
    value: Json,
    recovery_url: str | None,
    at: int,
) -> None:
    cart = state.cart(cart_id)
    if cart is not None and at < cart.at:
        return  # an older snapshot (a replay or a late webhook) must not undo a newer one
    cart = _cart_for(state, cart_id, at)
    before = {line_key(line): line.get("quantity", 1) for line in cart.items}
    cart.items = [dump(item) for item in items[:MAX_CART_ITEMS]]
    cart.value = value
    cart.recovery_url = recovery_url or cart.recovery_url
    cart.at = at
    if any(line.get("quantity", 1) > before.get(line_key(line), 0) for line in cart.items):
        state.last_cart_add_seq = state.seq


def _cart_updated(state: CustomerState, event: shop.CartUpdatedEvent) -> None:
    data = event.data
    _replace_cart(
        state, data.cart_id, data.items, dump(data.value), data.recovery_url, epoch(event.time)
    )


def checkout_cart_id(data: CheckoutStarted) -> str:
    return data.cart_id or f"checkout:{data.checkout_id}"


def _checkout(state: CustomerState, event: shop.CheckoutStartedEvent) -> None:
    data = event.data
    _replace_cart(
        state,
        checkout_cart_id(data),
        data.items,
        dump(data.value),
        data.recovery_url,
        epoch(event.time),
    )


def _order_placed(state: CustomerState, event: shop.OrderPlacedEvent) -> None:
    data, orders, at = event.data, state.orders, epoch(event.time)
    if data.order_id in orders.ids:
        return  # the same order reported again (orders/create and orders/paid)
    orders.count += 1
    orders.first_at = at if orders.first_at is None else min(orders.first_at, at)
    orders.last_at = at if orders.last_at is None else max(orders.last_at, at)
    orders.last_seq = state.seq
    currency = data.total.currency
    known = Decimal(orders.revenue.get(currency, "0"))
    orders.revenue[currency] = str(add_amounts([known, data.total.amount]))
    orders.ids.append(data.order_id)
    keep_last(orders.ids, MAX_ORDER_IDS)
    orders.recent.append(
        OrderSummary(
            order_id=data.order_id,
            order_number=data.order_number,
            items=[dump(item) for item in data.items[:MAX_ORDER_ITEMS]],
            total=dump(data.total),
            status_url=data.status_url,
            at=at,
            first_order=orders.count == 1,
        )
    )
    keep_last(orders.recent, MAX_RECENT_ORDERS)
    for item in data.items:
        _purchased(state, item, at)
    state.carts.clear()  # what was in the cart has been bought


def _purchased(state: CustomerState, item: LineItem, at: int) -> None:
    entry = state.product_purchases(item.product_id)
    if entry is None:
        entry = ProductPurchases(product_id=item.product_id, category=item.category)
    else:
        state.purchases.remove(entry)
    state.purchases.append(entry)
    keep_last(state.purchases, MAX_PRODUCTS)
    if at not in entry.times:
        entry.times.append(at)
        entry.times.sort()
        keep_last(entry.times, MAX_PURCHASE_TIMES)
    entry.seq = state.seq
    entry.category = item.category or entry.category


def _order_cancelled(state: CustomerState, event: shop.OrderCancelledEvent) -> None:
    order_id = event.data.order_id
    if order_id in state.orders.cancelled:
        return
    state.orders.cancelled.append(order_id)
    keep_last(state.orders.cancelled, MAX_ORDER_IDS)
    for summary in state.orders.recent:
        if summary.order_id == order_id:
            _subtract(state, summary.total["currency"], Decimal(summary.total["amount"]))


def _refunded(state: CustomerState, event: shop.OrderRefundedEvent) -> None:
    _subtract(state, event.data.amount.currency, event.data.amount.amount)


def _subtract(state: CustomerState, currency: str, amount: Decimal) -> None:
    known = Decimal(state.orders.revenue.get(currency, "0"))
    state.orders.revenue[currency] = str(max(add_amounts([known, -amount]), Decimal(0)))


def _subscription(state: CustomerState, event: shop.SubscriptionChangedEvent) -> None:
    granted = event.data.status is SubscriptionStatus.SUBSCRIBED
    set_consent(state, event.data.channel.value, granted, epoch(event.time))


def _withdrawn(state: CustomerState, event: feedback.ConsentWithdrawnEvent) -> None:
    set_consent(state, event.data.channel.value, False, epoch(event.time))


def _granted(state: CustomerState, event: feedback.ConsentGrantedEvent) -> None:
    set_consent(state, event.data.channel.value, True, epoch(event.time))


def _category(state: CustomerState, event: feedback.CategoryPreferenceEvent) -> None:
    data = event.data
    set_consent(state, category_key(data.category), data.subscribed, epoch(event.time))


_EMAIL = "email"
_ALL = feedback.SuppressionScope.ALL.value
_MARKETING = feedback.SuppressionScope.MARKETING.value


def _complaint(state: CustomerState, event: feedback.ComplaintReceivedEvent) -> None:
    reason = feedback.SuppressionReason.COMPLAINT.value
    suppress(state, _EMAIL, _MARKETING, reason, epoch(event.time))


def _bounced(state: CustomerState, event: feedback.EmailBouncedEvent) -> None:
    if event.data.kind is feedback.BounceKind.HARD:
        reason = feedback.SuppressionReason.HARD_BOUNCE.value
        suppress(state, _EMAIL, _ALL, reason, epoch(event.time))


def _address_suppressed(state: CustomerState, event: feedback.AddressSuppressedEvent) -> None:
    data = event.data
    suppress(state, _EMAIL, data.scope.value, data.reason.value, epoch(event.time))


def _address_unsuppressed(state: CustomerState, event: feedback.AddressUnsuppressedEvent) -> None:
    clear_suppressions(state, _EMAIL, epoch(event.time))


def _sms_failed(state: CustomerState, event: feedback.SmsDeliveryFailedEvent) -> None:
    if event.data.permanent:
        set_consent(state, "sms", False, epoch(event.time))


def _survey(state: CustomerState, event: feedback.SurveyAnsweredEvent) -> None:
    state.last_survey_seq = state.seq
    order_id = event.data.order_id
    if order_id is not None and order_id not in state.surveys:
        state.surveys.append(order_id)
        keep_last(state.surveys, MAX_SURVEYS)


def _segment_entered(state: CustomerState, event: segments.SegmentEnteredEvent) -> None:
    if event.data.segment_id not in state.segments:
        state.segments.append(event.data.segment_id)
        keep_last(state.segments, MAX_SEGMENTS)


def _segment_exited(state: CustomerState, event: segments.SegmentExitedEvent) -> None:
    if event.data.segment_id in state.segments:
        state.segments.remove(event.data.segment_id)


Handler = Callable[[CustomerState, Any], None]

HANDLERS: dict[str, Handler] = {
    "customer.created": _customer_created,
    "customer.updated": _customer_updated,
    "product.viewed": _viewed,
    "product.added": _added,
    "product.removed": _removed,
    "cart.updated": _cart_updated,
    "checkout.started": _checkout,
    "order.placed": _order_placed,
    "order.cancelled": _order_cancelled,
    "order.refunded": _refunded,
    "subscription.changed": _subscription,
    "consent.withdrawn": _withdrawn,
    "consent.granted": _granted,
    "category.preference_changed": _category,
    "complaint.received": _complaint,
    "email.bounced": _bounced,
    "address.suppressed": _address_suppressed,
    "address.unsuppressed": _address_unsuppressed,
    "sms.delivery_failed": _sms_failed,
    "survey.answered": _survey,
    "segment.entered": _segment_entered,
    "segment.exited": _segment_exited,
}
"""Event types that change the facts; shipments only start journeys (see entries.py)."""

JOURNEY_ONLY = frozenset(
    {"shipment.created", "shipment.status_changed", "shipment.delivered"},
)
"""Event types with no facts to keep that may still start journeys."""
