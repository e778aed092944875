"""What ingest publishes for one customer's actions, by ingest's own parsing.

The simulator's parts (services/simulator/formats.py) go through the functions ingest's
routes call (the Shopify adapter, the native and Segment items); what ingest keeps in memory
is followed here per customer: repeated event ids are published once (orders/paid after
orders/create, a checkout linking the same cart twice) and Shopify fulfillment events, keyed
by order, are moved to the order's customer (services/ingest/order_owners.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from pydantic import SecretStr

from services.ingest.adapters.shopify import map_shopify_webhook
from services.ingest.intake import Item
from services.ingest.order_owners import ORDER_PREFIX
from services.ingest.routes.native import native_item
from services.ingest.routes.segment import segment_item
from services.simulator.behaviour import Action
from services.simulator.formats import Door, Format, Part, parts
from shared.events import EventEnvelope
from shared.tenancy import ShopAccess

_OWNING_TYPES = frozenset({"order.placed", "order.cancelled"})


def access(shop_id: str) -> ShopAccess:
    """The shop as ingest's parsers need it (signatures are not what the oracle checks)."""
    return ShopAccess(
        shop_id=shop_id,
        shopify_domain=f"{shop_id}.myshopify.com",
        webhook_secrets=(SecretStr("oracle"),),
        rate_limit_per_s=1_000_000,
        require_signature=False,
    )


class CustomerIngest:
    """Ingest's view of one customer's requests: parse, re-key, drop repeats."""

    def __init__(self, shop: ShopAccess, format: Format) -> None:
        self._shop = shop
        self._format = format
        self._seen: set[str] = set()
        self._owners: dict[str, str] = {}

    def events(self, actions: Iterable[Action]) -> Iterator[tuple[Action, EventEnvelope]]:
        """Each event ingest publishes (first deliveries only), with the action it came from."""
        for action in actions:
            for part in parts(action, self._format):
                for event in self._rekeyed(self._parse(part)):
                    if event.id in self._seen:
                        continue
                    self._seen.add(event.id)
                    self._remember(event)
                    yield action, event

    def _parse(self, part: Part) -> list[EventEnvelope]:
        if part.door is Door.SHOPIFY:
            assert part.topic is not None
            body: dict[str, Any] = part.body
            return list[EventEnvelope](
                map_shopify_webhook(
                    shop_id=self._shop.shop_id,
                    topic=part.topic,
                    payload=body,
                    webhook_id=part.ref,
                    triggered_at=part.action.at,
                    shop_domain=self._shop.shopify_domain or "",
                )
            )
        item: Item
        if part.door is Door.NATIVE:
            item = native_item(part.body, self._shop)
        else:
            item = segment_item(part.body, self._shop, None)
        if item.errors:
            raise ValueError(f"ingest refuses {part.ref}: {item.errors}")
        return item.events

    def _rekeyed(self, events: list[EventEnvelope]) -> list[EventEnvelope]:
        out = []
        for event in events:
            order_id = _order_id(event)
            owner = self._owners.get(order_id) if order_id is not None else None
            if (
                owner is not None
                and event.customerid is None
                and event.anonymousid == f"{ORDER_PREFIX}{order_id}"
            ):
                event = event.model_copy(update={"customerid": owner, "anonymousid": None})
            out.append(event)
        return out

    def _remember(self, event: EventEnvelope) -> None:
        order_id = _order_id(event)
        if event.type in _OWNING_TYPES and event.customerid and order_id:
            self._owners[order_id] = event.customerid


def _order_id(event: EventEnvelope) -> str | None:
    order_id = getattr(getattr(event, "data", None), "order_id", None)
    return order_id if isinstance(order_id, str) else None


def event_time(event: EventEnvelope) -> datetime:
    return event.time
