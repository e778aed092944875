"""Shopify webhooks (REST/JSON payloads) as Nudge shop events.

One call per delivery: the HTTP layer has checked the HMAC and read the headers
(`X-Shopify-Topic`, `X-Shopify-Webhook-Id`, `X-Shopify-Triggered-At`, `X-Shopify-Shop-Domain`).

Keys. Events are keyed by the payload's customer; guests' carts, checkouts and orders by the
cart token (or checkout token). Refunds and fulfillments carry no customer at all, only the
order: they are keyed under `anon:order:{order_id}`, which the caller should re-key to the
order's customer when it knows it (Shopify offers no customer id in those payloads).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, Final

from services.ingest.adapters._payload import ROOT, Node
from services.ingest.adapters._shopify_checkouts import map_cart, map_checkout
from services.ingest.adapters._shopify_common import Delivery
from services.ingest.adapters._shopify_customers import map_customer
from services.ingest.adapters._shopify_orders import (
    map_order_cancelled,
    map_order_placed,
    map_refund,
)
from services.ingest.adapters._shopify_shipping import map_fulfillment, map_fulfillment_event
from services.ingest.adapters.errors import MappingError, UnsupportedTopic
from shared.events import ShopEvent

Mapper = Callable[[Node, Delivery], list[ShopEvent]]

_MAPPERS: Final[dict[str, Mapper]] = {
    "customers/create": partial(map_customer, created=True),
    "customers/update": partial(map_customer, created=False),
    "carts/update": map_cart,
    "checkouts/create": map_checkout,
    "checkouts/update": map_checkout,
    "orders/create": map_order_placed,
    "orders/paid": map_order_placed,
    "orders/cancelled": map_order_cancelled,
    "refunds/create": map_refund,
    "fulfillments/create": map_fulfillment,
    "fulfillment_events/create": map_fulfillment_event,
}

SUPPORTED_TOPICS: Final[frozenset[str]] = frozenset(_MAPPERS)


def map_shopify_webhook(
    *,
    shop_id: str,
    topic: str,
    payload: dict[str, Any],
    webhook_id: str,
    triggered_at: datetime | None,
    shop_domain: str,
) -> list[ShopEvent]:
    """The events one webhook delivery reports; raises MappingError (or UnsupportedTopic).

    `shop_domain` is accepted for the caller's convenience; no mapping needs it today.
    """
    mapper = _MAPPERS.get(topic.strip().lower())
    if mapper is None:
        raise UnsupportedTopic("X-Shopify-Topic", f"topic {topic!r} is not mapped")
    if not isinstance(payload, dict):
        raise MappingError(ROOT, "expected a JSON object")
    delivery = Delivery(shop_id=shop_id, webhook_id=webhook_id, triggered_at=triggered_at)
    return mapper(Node(payload), delivery)
