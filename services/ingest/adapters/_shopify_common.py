"""What every Shopify topic mapper shares: the delivery's context, event ids, money, lines.

Event ids. Duplicates are made harmless downstream by id, so the id must name the *fact*:
- a fact several topics report (an order placed: orders/create *and* orders/paid) gets its id
  from the business entity: `shopify` + `{entity}/{id}/{event type}`;
- a fact that is new with every delivery (a customer update) gets it from the delivery:
  `shopify` + `webhook/{X-Shopify-Webhook-Id}/{event type}`; Shopify keeps that header on
  retries, so a retried delivery maps to the same id.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from services.ingest.adapters._build import When, Who, build, envelope, money
from services.ingest.adapters._payload import Node
from services.ingest.adapters.errors import MappingError
from shared.events.envelope import EventEnvelope, derived_event_id
from shared.events.shop import LineItem
from shared.events.types import Money

E = TypeVar("E", bound=EventEnvelope)

ORIGIN = "shopify"
WEBHOOK_ID_HEADER = "X-Shopify-Webhook-Id"
TRIGGERED_AT_HEADER = "X-Shopify-Triggered-At"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook delivery: who sent it and the headers that matter for mapping."""

    shop_id: str
    webhook_id: str
    triggered_at: datetime | None

    @property
    def fallback_time(self) -> When | None:
        """When the payload carries no time of its own, Shopify's trigger time is closest."""
        if self.triggered_at is None:
            return None
        return When(self.triggered_at, TRIGGERED_AT_HEADER)

    def per_delivery_id(self, event_type: str) -> str:
        webhook_id = self.webhook_id.strip()
        if not webhook_id:
            raise MappingError(WEBHOOK_ID_HEADER, "required header is missing")
        return derived_event_id(self.shop_id, ORIGIN, f"webhook/{webhook_id}/{event_type}")

    def per_entity_id(self, entity: str, entity_id: str, event_type: str) -> str:
        return derived_event_id(self.shop_id, ORIGIN, f"{entity}/{entity_id}/{event_type}")

    def event(self, cls: type[E], *, event_id: str, when: When, who: Who, data: Any) -> E:
        return envelope(
            cls,
            event_id=event_id,
            source=f"/shops/{self.shop_id}/shopify",
            shop_id=self.shop_id,
            when=when,
            who=who,
            data=data,
        )


def buyer(node: Node, *token_keys: str, fallback: Who | None = None) -> Who:
    """The payload's customer, else (a guest) the first cart/checkout token present.

    Carts, guest checkouts and guest orders share the cart token, so a guest's events land
    under one anonymous key.
    """
    customer = node.opt_obj("customer")
    customer_id = customer.opt_ident("id") if customer is not None else None
    if customer is not None and customer_id is not None:
        return Who(customer_id=customer_id, customer_field=customer.field("id"))
    for key in token_keys:
        token = node.opt_ident(key)
        if token is not None:
            return Who(anonymous_id=token, anonymous_field=node.field(key))
    if fallback is not None:
        return fallback
    wanted = " or ".join(("customer.id", *token_keys))
    raise MappingError(node.field("customer"), f"no {wanted} to key the event by")


def order_key(node: Node) -> Who:
    """For topics whose payload names an order but no customer (refunds, fulfillments).

    Shopify sends no customer with these, so they are keyed under `anon:order:{id}`; the
    caller may re-key them once it knows the order's customer (see shopify.py).
    """
    order_id = node.ident("order_id")
    return Who(anonymous_id=f"order:{order_id}", anonymous_field=node.field("order_id"))


class Prices:
    """Reads a document's money without mixing the shop's and the buyer's currencies.

    Shopify sends `x` in one currency (the shop's on orders, the buyer's on checkouts) and,
    on newer resources, `x_set.presentment_money` in the buyer's. We prefer the latter: it is
    what the customer saw and what a message to them must show.
    """

    def __init__(self, currency: str | None, currency_field: str) -> None:
        self.currency = currency
        self.currency_field = currency_field
        """The currency of plain `x` amounts, and where it was read."""

    @classmethod
    def of(cls, node: Node, *currency_keys: str) -> Prices:
        """Plain amounts in the first currency field present among `currency_keys`."""
        for key in currency_keys:
            currency = node.opt_text(key)
            if currency is not None:
                return cls(currency, node.field(key))
        return cls(None, node.field(currency_keys[0] if currency_keys else "currency"))

    def opt(self, node: Node, key: str) -> Money | None:
        """`key`'s amount; None when absent, or plain while the document names no currency."""
        money_set = node.opt_obj(f"{key}_set")
        buyer_money = money_set.opt_obj("presentment_money") if money_set is not None else None
        if buyer_money is not None and buyer_money.present("amount"):
            return money(
                buyer_money.amount("amount"),
                buyer_money.opt_text("currency_code"),
                buyer_money.field("amount"),
                buyer_money.field("currency_code"),
            )
        amount = node.opt_amount(key)
        if amount is None or self.currency is None:
            return None
        return money(amount, self.currency, node.field(key), self.currency_field)

    def required(self, node: Node, key: str) -> Money:
        found = self.opt(node, key)
        if found is not None:
            return found
        if node.present(key):
            raise MappingError(self.currency_field, f"required currency for {key} is missing")
        raise MappingError(node.field(key), "required amount is missing")


def line_item(node: Node, prices: Prices, quantity_from: Node | None = None) -> LineItem | None:
    """A Shopify line as a LineItem; None for a custom line, which refers to no product."""
    product_id = node.opt_ident("product_id")
    if product_id is None:
        return None
    counted = quantity_from or node
    quantity = counted.raw("quantity")
    fields = {
        "product_id": node.field("product_id"),
        "variant_id": node.field("variant_id"),
        "sku": node.field("sku"),
        "title": node.field("title"),
        "category": node.field("product_type"),
        "brand": node.field("vendor"),
        "price": node.field("price"),
        "quantity": counted.field("quantity"),
    }
    return build(
        LineItem,
        fields,
        product_id=product_id,
        variant_id=node.opt_ident("variant_id"),
        sku=node.opt_text("sku"),
        title=node.opt_text("title") or node.opt_text("name"),
        category=node.opt_text("product_type"),
        brand=node.opt_text("vendor"),
        price=prices.opt(node, "price"),
        **({} if quantity is None else {"quantity": quantity}),
    )


def line_items(node: Node, key: str, prices: Prices) -> list[LineItem]:
    return [item for line in node.objects(key) if (item := line_item(line, prices)) is not None]
