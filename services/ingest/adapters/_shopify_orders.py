"""orders/create|paid|cancelled and refunds/create.

orders/create and orders/paid both report the one fact "this order was placed": their
events share an id derived from the order id, so whichever arrives second is a duplicate.
"""

from __future__ import annotations

from pydantic import TypeAdapter

from services.ingest.adapters._build import Who, build, first_time, money, valid_or_none
from services.ingest.adapters._payload import Node
from services.ingest.adapters._shopify_common import (
    Delivery,
    Prices,
    buyer,
    line_item,
    line_items,
    order_key,
)
from services.ingest.adapters.errors import MappingError
from shared.events.catalog import (
    OrderCancelledEvent,
    OrderPlacedEvent,
    OrderRefundedEvent,
    ShopEvent,
)
from shared.events.shop import LineItem, OrderCancelled, OrderPlaced, OrderRefunded
from shared.events.types import HttpUrl, Money, add_amounts

URL: TypeAdapter[str] = TypeAdapter(HttpUrl)


def _order_number(order: Node) -> str | None:
    """The number the customer sees ("#1001"), which is `name`, not `order_number`."""
    return order.opt_text("name") or order.opt_ident("order_number")


def map_order_placed(root: Node, delivery: Delivery) -> list[ShopEvent]:
    order_id = root.ident("id")
    prices = Prices.of(root, "currency")  # plain order amounts are in the shop's currency
    items = line_items(root, "line_items", prices)
    if not items:
        raise MappingError(root.field("line_items"), "no line refers to a product")
    codes = [code.opt_text("code") for code in root.objects("discount_codes")]
    data = build(
        OrderPlaced,
        {
            "order_id": root.field("id"),
            "order_number": root.field("name"),
            "checkout_id": root.field("checkout_token"),
            "items": root.field("line_items"),
            "subtotal": root.field("subtotal_price"),
            "discounts": root.field("total_discounts"),
            "shipping": root.field("total_shipping_price_set"),
            "tax": root.field("total_tax"),
            "total": root.field("total_price"),
            "discount_codes": root.field("discount_codes"),
            "": root.field("total_price_set"),
        },
        order_id=order_id,
        order_number=_order_number(root),
        checkout_id=root.opt_ident("checkout_token") or root.opt_ident("checkout_id"),
        items=items,
        subtotal=prices.opt(root, "subtotal_price"),
        discounts=prices.opt(root, "total_discounts"),
        shipping=prices.opt(root, "total_shipping_price"),
        tax=prices.opt(root, "total_tax"),
        total=prices.required(root, "total_price"),
        discount_codes=[code for code in codes if code is not None],
        status_url=valid_or_none(URL, root.opt_text("order_status_url")),
    )
    return [
        delivery.event(
            OrderPlacedEvent,
            event_id=delivery.per_entity_id("orders", order_id, "order.placed"),
            when=first_time(root, ("processed_at", "created_at"), delivery.fallback_time),
            who=buyer(root, "cart_token", "checkout_token", fallback=_order_who(root)),
            data=data,
        )
    ]


def _order_who(order: Node) -> Who:
    """A guest order without cart or checkout token: the order's own key, as refunds use."""
    return Who(anonymous_id=f"order:{order.ident('id')}", anonymous_field=order.field("id"))


def map_order_cancelled(root: Node, delivery: Delivery) -> list[ShopEvent]:
    order_id = root.ident("id")
    data = build(
        OrderCancelled,
        {"order_id": root.field("id"), "reason": root.field("cancel_reason")},
        order_id=order_id,
        reason=root.opt_text("cancel_reason"),
    )
    return [
        delivery.event(
            OrderCancelledEvent,
            event_id=delivery.per_entity_id("orders", order_id, "order.cancelled"),
            when=first_time(root, ("cancelled_at", "updated_at"), delivery.fallback_time),
            who=buyer(root, "cart_token", "checkout_token", fallback=_order_who(root)),
            data=data,
        )
    ]


def _refund_currency(refund: Node, transactions: list[Node]) -> tuple[str | None, str]:
    """The refund's currency: its transactions', else the buyer's on its line subtotals."""
    for transaction in transactions:
        currency = transaction.opt_text("currency")
        if currency is not None:
            return currency, transaction.field("currency")
    sets = [line.opt_obj("subtotal_set") for line in refund.objects("refund_line_items")]
    sets.append(refund.opt_obj("total_duties_set"))
    for money_set in sets:
        buyer_money = money_set.opt_obj("presentment_money") if money_set is not None else None
        currency = buyer_money.opt_text("currency_code") if buyer_money is not None else None
        if buyer_money is not None and currency is not None:
            return currency, buyer_money.field("currency_code")
    return None, refund.field("transactions")


def _refunded_amount(refund: Node) -> Money:
    """What went back to the customer: the successful refund transactions (0 if none)."""
    paid_back = [
        transaction
        for transaction in refund.objects("transactions")
        if transaction.opt_text("kind") == "refund" and transaction.opt_text("status") == "success"
    ]
    currency, currency_field = _refund_currency(refund, paid_back)
    amount = add_amounts(transaction.amount("amount") for transaction in paid_back)
    return money(amount, currency, refund.field("transactions"), currency_field)


def _refunded_items(refund: Node, amount: Money) -> list[LineItem]:
    prices = Prices(amount.currency, refund.field("transactions"))
    items = []
    for line in refund.objects("refund_line_items"):
        ordered = line.opt_obj("line_item")
        item = line_item(ordered, prices, quantity_from=line) if ordered is not None else None
        if item is not None:
            items.append(item)
    return items


def map_refund(root: Node, delivery: Delivery) -> list[ShopEvent]:
    refund_id = root.ident("id")
    amount = _refunded_amount(root)
    data = build(
        OrderRefunded,
        {
            "order_id": root.field("order_id"),
            "refund_id": root.field("id"),
            "items": root.field("refund_line_items"),
            "reason": root.field("note"),
        },
        order_id=root.ident("order_id"),
        refund_id=refund_id,
        amount=amount,
        items=_refunded_items(root, amount),
        reason=root.opt_text("note"),
    )
    return [
        delivery.event(
            OrderRefundedEvent,
            event_id=delivery.per_entity_id("refunds", refund_id, "order.refunded"),
            when=first_time(root, ("processed_at", "created_at"), delivery.fallback_time),
            who=order_key(root),
            data=data,
        )
    ]
