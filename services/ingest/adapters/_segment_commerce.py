"""Segment's e-commerce v2 track events (Product Viewed ... Order Cancelled) as shop events.

Event names are matched case-, space- and underscore-insensitively ("Order Completed",
"order_completed"), and the v1 names ("Completed Order") are accepted, since shops' tracking
plans use all of these forms.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, TypeVar

from pydantic import TypeAdapter

from services.ingest.adapters._build import build, money, valid_or_none
from services.ingest.adapters._payload import Node
from services.ingest.adapters._segment_context import Call
from services.ingest.adapters.errors import MappingError
from shared.events.catalog import (
    CheckoutStartedEvent,
    OrderCancelledEvent,
    OrderPlacedEvent,
    OrderRefundedEvent,
    ProductAddedEvent,
    ProductRemovedEvent,
    ProductViewedEvent,
    ShopEvent,
)
from shared.events.shop import (
    CheckoutStarted,
    LineItem,
    OrderCancelled,
    OrderPlaced,
    OrderRefunded,
    ProductAdded,
    ProductRef,
    ProductRemoved,
    ProductViewed,
)
from shared.events.types import HttpUrl, Money, add_amounts

URL: TypeAdapter[str] = TypeAdapter(HttpUrl)

P = TypeVar("P", bound=ProductRef)

DEFAULT_CURRENCY = "USD"
"""The Segment Spec's documented default when a call names no currency."""


class _Currency:
    """The call's currency (properties.currency, default USD) and where it was read."""

    def __init__(self, props: Node) -> None:
        named = props.opt_text("currency")
        self.code = named.upper() if named is not None else DEFAULT_CURRENCY
        self.field = props.field("currency")

    def money(self, node: Node, *keys: str) -> Money | None:
        """The first of `keys` present on `node`, in the call's currency."""
        for key in keys:
            amount = node.opt_amount(key)
            if amount is not None:
                return money(amount, self.code, node.field(key), self.field)
        return None


def _product(model: type[P], node: Node, currency: _Currency) -> P:
    """A Spec product (properties, or one of properties.products) as a ProductRef/LineItem."""
    id_key = "product_id" if node.present("product_id") or not node.present("id") else "id"
    values: dict[str, Any] = {
        "product_id": node.ident(id_key),  # `id` is the v1 Spec's name
        # The Spec's `variant` is what the shop calls the variant ("Black"): the only
        # variant identity a Segment call carries.
        "variant_id": node.opt_ident("variant"),
        "sku": node.opt_ident("sku"),
        "title": node.opt_text("name"),
        "category": node.opt_text("category"),
        "brand": node.opt_text("brand"),
        "price": currency.money(node, "price"),
        # A broken link must not cost the event: it is dropped instead.
        "url": valid_or_none(URL, node.opt_text("url")),
        "image_url": valid_or_none(URL, node.opt_text("image_url")),
    }
    quantity = node.raw("quantity")
    if issubclass(model, LineItem) and quantity is not None:
        values["quantity"] = quantity
    fields = {
        "product_id": node.field(id_key),
        "variant_id": node.field("variant"),
        "sku": node.field("sku"),
        "title": node.field("name"),
        "category": node.field("category"),
        "brand": node.field("brand"),
        "quantity": node.field("quantity"),
    }
    return build(model, fields, **values)


def _lines(props: Node, currency: _Currency) -> list[LineItem]:
    return [_product(LineItem, product, currency) for product in props.objects("products")]


def _worth(props: Node, currency: _Currency, items: list[LineItem], *keys: str) -> Money:
    """The first amount among `keys`, else the products' prices times quantities."""
    stated = currency.money(props, *keys)
    if stated is not None:
        return stated
    if not items or any(item.price is None for item in items):
        raise MappingError(props.field(keys[0]), "required amount is missing")
    total = add_amounts(item.price.amount * item.quantity for item in items if item.price)
    return money(total, currency.code, props.field("products"), currency.field)


def _viewed(props: Node, call: Call) -> ShopEvent:
    product = _product(ProductRef, props, _Currency(props))
    return call.event(ProductViewedEvent, ProductViewed(product=product))


def _added(props: Node, call: Call) -> ShopEvent:
    data = build(
        ProductAdded,
        {"cart_id": props.field("cart_id")},
        cart_id=props.opt_ident("cart_id"),
        item=_product(LineItem, props, _Currency(props)),
    )
    return call.event(ProductAddedEvent, data)


def _removed(props: Node, call: Call) -> ShopEvent:
    data = build(
        ProductRemoved,
        {"cart_id": props.field("cart_id")},
        cart_id=props.opt_ident("cart_id"),
        item=_product(LineItem, props, _Currency(props)),
    )
    return call.event(ProductRemovedEvent, data)


def _checkout_started(props: Node, call: Call) -> ShopEvent:
    currency = _Currency(props)
    id_key = (
        "order_id"
        if props.present("order_id") and not props.present("checkout_id")
        else "checkout_id"
    )
    items = _lines(props, currency)
    data = build(
        CheckoutStarted,
        {
            "checkout_id": props.field(id_key),
            "cart_id": props.field("cart_id"),
            "items": props.field("products"),
        },
        checkout_id=props.ident(id_key),
        cart_id=props.opt_ident("cart_id"),
        items=items,
        value=_worth(props, currency, items, "value", "revenue", "total"),
    )
    return call.event(CheckoutStartedEvent, data)


def _order_completed(props: Node, call: Call) -> ShopEvent:
    currency = _Currency(props)
    items = _lines(props, currency)
    coupon = props.opt_text("coupon")
    data = build(
        OrderPlaced,
        {
            "order_id": props.field("order_id"),
            "checkout_id": props.field("checkout_id"),
            "items": props.field("products"),
            "discount_codes": props.field("coupon"),
        },
        order_id=props.ident("order_id"),
        checkout_id=props.opt_ident("checkout_id"),
        items=items,
        subtotal=currency.money(props, "subtotal"),
        discounts=currency.money(props, "discount"),
        shipping=currency.money(props, "shipping"),
        tax=currency.money(props, "tax"),
        total=_worth(props, currency, items, "total", "revenue", "value"),
        discount_codes=[coupon] if coupon is not None else [],
    )
    return call.event(OrderPlacedEvent, data)


def _order_refunded(props: Node, call: Call) -> ShopEvent:
    """A refund id is rarely sent; each call then is one refund, named by its messageId."""
    currency = _Currency(props)
    items = _lines(props, currency)
    data = build(
        OrderRefunded,
        {
            "order_id": props.field("order_id"),
            "refund_id": props.field("refund_id"),
            "items": props.field("products"),
            "reason": props.field("reason"),
        },
        order_id=props.ident("order_id"),
        refund_id=props.opt_ident("refund_id") or call.message_id,
        amount=_worth(props, currency, items, "total", "value", "revenue"),
        items=items,
        reason=props.opt_text("reason"),
    )
    return call.event(OrderRefundedEvent, data)


def _order_cancelled(props: Node, call: Call) -> ShopEvent:
    data = build(
        OrderCancelled,
        {"order_id": props.field("order_id"), "reason": props.field("reason")},
        order_id=props.ident("order_id"),
        reason=props.opt_text("reason"),
    )
    return call.event(OrderCancelledEvent, data)


Handler = Callable[[Node, Call], ShopEvent]

_HANDLERS: Final[dict[str, Handler]] = {
    "product viewed": _viewed,
    "viewed product": _viewed,
    "product added": _added,
    "added product": _added,
    "product removed": _removed,
    "removed product": _removed,
    "checkout started": _checkout_started,
    "started checkout": _checkout_started,
    "order completed": _order_completed,
    "completed order": _order_completed,
    "order refunded": _order_refunded,
    "refunded order": _order_refunded,
    "order cancelled": _order_cancelled,
    "order canceled": _order_cancelled,
    "cancelled order": _order_cancelled,
}


def _normalise(name: str) -> str:
    return " ".join(name.replace("_", " ").lower().split())


def map_track(root: Node, call: Call) -> list[ShopEvent]:
    """The call's event, or [] for events Nudge does not use (Cart Viewed, custom ones)."""
    handler = _HANDLERS.get(_normalise(root.text("event")))
    if handler is None:
        return []
    props = root.opt_obj("properties") or Node({}, root.field("properties"))
    return [handler(props, call)]
