"""carts/update and checkouts/create|update: what a shopper is about to buy.

Both are re-sent on every change, so each delivery is a new fact (id from the webhook id).
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import TypeAdapter

from services.ingest.adapters._build import Who, build, first_time, money, valid_or_none
from services.ingest.adapters._payload import Node
from services.ingest.adapters._shopify_common import Delivery, Prices, buyer, line_items
from services.ingest.adapters.errors import MappingError
from shared.events.catalog import (
    CartUpdatedEvent,
    CheckoutStartedEvent,
    CustomerIdentifiedEvent,
    ShopEvent,
)
from shared.events.shop import CartUpdated, CheckoutStarted, CustomerIdentified
from shared.events.types import HttpUrl, Money, add_amounts

URL: TypeAdapter[str] = TypeAdapter(HttpUrl)

NO_CURRENCY = "XXX"
"""ISO 4217's code for "no currency": the value of an emptied cart that names none."""


def _cart_value(cart: Node, prices: Prices) -> Money:
    """The sum of the line totals, all in one currency (a cart payload has no total)."""
    totals = [(line, prices.required(line, "line_price")) for line in cart.objects("line_items")]
    if not totals:
        field = cart.field("line_items")
        return money(Decimal(0), prices.currency or NO_CURRENCY, field, prices.currency_field)
    currency = totals[0][1].currency
    for line, total in totals:
        if total.currency != currency:
            raise MappingError(line.field("line_price_set"), "cart lines use several currencies")
    amount = add_amounts(total.amount for _, total in totals)
    return money(amount, currency, cart.field("line_items"), prices.currency_field)


def map_cart(root: Node, delivery: Delivery) -> list[ShopEvent]:
    """Carts belong to no customer: they are keyed by the cart token, as guest checkouts are."""
    token_key = "id" if root.present("id") and not root.present("token") else "token"
    cart_id = root.ident(token_key)
    prices = Prices.of(root, "presentment_currency", "currency")
    data = build(
        CartUpdated,
        {"cart_id": root.field(token_key), "items": root.field("line_items")},
        cart_id=cart_id,
        items=line_items(root, "line_items", prices),
        value=_cart_value(root, prices),
    )
    return [
        delivery.event(
            CartUpdatedEvent,
            event_id=delivery.per_delivery_id("cart.updated"),
            when=first_time(root, ("updated_at", "created_at"), delivery.fallback_time),
            who=Who(anonymous_id=cart_id, anonymous_field=root.field(token_key)),
            data=data,
        )
    ]


def map_checkout(root: Node, delivery: Delivery) -> list[ShopEvent]:
    """checkout.started, plus customer.identified when a known customer took over a cart.

    A guest's cart events are keyed by the cart token; once the checkout names the customer,
    customer.identified (under the cart's key) lets that history be joined to the customer.
    """
    id_key = "id" if root.present("id") and not root.present("token") else "token"
    cart_token = root.opt_ident("cart_token")
    prices = Prices.of(root, "presentment_currency", "currency")  # checkout amounts: buyer's
    data = build(
        CheckoutStarted,
        {
            "checkout_id": root.field(id_key),
            "cart_id": root.field("cart_token"),
            "items": root.field("line_items"),
            "value": root.field("total_price"),
        },
        checkout_id=root.ident(id_key),
        cart_id=cart_token,
        items=line_items(root, "line_items", prices),
        value=prices.required(root, "total_price"),
        recovery_url=valid_or_none(URL, root.opt_text("abandoned_checkout_url")),
    )
    when = first_time(root, ("updated_at", "created_at"), delivery.fallback_time)
    who = buyer(root, "cart_token", "token")
    events: list[ShopEvent] = [
        delivery.event(
            CheckoutStartedEvent,
            event_id=delivery.per_delivery_id("checkout.started"),
            when=when,
            who=who,
            data=data,
        )
    ]
    if who.customer_id is not None and cart_token is not None:
        identified = build(
            CustomerIdentified,
            {"anonymous_id": root.field("cart_token"), "customer_id": who.customer_field},
            anonymous_id=cart_token,
            customer_id=who.customer_id,
        )
        events.append(
            delivery.event(
                CustomerIdentifiedEvent,
                event_id=delivery.per_entity_id(
                    "carts", cart_token, f"customer.identified/{who.customer_id}"
                ),
                when=when,
                who=Who(anonymous_id=cart_token, anonymous_field=root.field("cart_token")),
                data=identified,
            )
        )
    return events
