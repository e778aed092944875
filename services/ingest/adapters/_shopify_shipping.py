"""fulfillments/create and fulfillment_events/create: the parcel's journey.

Neither payload names the customer, only the order: see `order_key`.
"""

from __future__ import annotations

from pydantic import TypeAdapter

from services.ingest.adapters._build import build, first_time, valid_or_none
from services.ingest.adapters._payload import Node
from services.ingest.adapters._shopify_common import Delivery, Prices, line_items, order_key
from services.ingest.adapters.errors import MappingError
from shared.events.catalog import (
    ShipmentCreatedEvent,
    ShipmentDeliveredEvent,
    ShipmentStatusChangedEvent,
    ShopEvent,
)
from shared.events.shop import (
    ShipmentCreated,
    ShipmentDelivered,
    ShipmentStatus,
    ShipmentStatusChanged,
)
from shared.events.types import HttpUrl

URL: TypeAdapter[str] = TypeAdapter(HttpUrl)


def _first(node: Node, key: str, plural: str) -> str | None:
    """`key`, else the first of the `plural` list (Shopify sends both forms)."""
    single = node.opt_text(key)
    if single is not None:
        return single
    for item in node.items(plural):
        if not isinstance(item.value, str):
            raise MappingError(item.path, "expected a string")
        if item.value.strip():
            return item.value.strip()
    return None


def map_fulfillment(root: Node, delivery: Delivery) -> list[ShopEvent]:
    fulfillment_id = root.ident("id")
    tracking_url = _first(root, "tracking_url", "tracking_urls")
    data = build(
        ShipmentCreated,
        {
            "order_id": root.field("order_id"),
            "shipment_id": root.field("id"),
            "carrier": root.field("tracking_company"),
            "tracking_number": root.field("tracking_number"),
            "items": root.field("line_items"),
        },
        order_id=root.ident("order_id"),
        shipment_id=fulfillment_id,
        carrier=root.opt_text("tracking_company"),
        tracking_number=_first(root, "tracking_number", "tracking_numbers"),
        # A carrier link without a scheme must not cost the shipment notice.
        tracking_url=valid_or_none(URL, tracking_url),
        items=line_items(root, "line_items", Prices.of(root, "currency")),
    )
    return [
        delivery.event(
            ShipmentCreatedEvent,
            event_id=delivery.per_entity_id("fulfillments", fulfillment_id, "shipment.created"),
            when=first_time(root, ("created_at", "updated_at"), delivery.fallback_time),
            who=order_key(root),
            data=data,
        )
    ]


def map_fulfillment_event(root: Node, delivery: Delivery) -> list[ShopEvent]:
    """shipment.status_changed; also shipment.delivered when the parcel arrived.

    shipment.delivered is one fact per fulfillment (a carrier may report "delivered" twice),
    so its id comes from the fulfillment, while each status change has its own.
    """
    fulfillment_id = root.ident("fulfillment_id")
    order_id = root.ident("order_id")
    status = root.text("status").lower()  # the GraphQL form is upper case
    data = build(
        ShipmentStatusChanged,
        {
            "order_id": root.field("order_id"),
            "shipment_id": root.field("fulfillment_id"),
            "status": root.field("status"),
            "message": root.field("message"),
            "estimated_delivery_at": root.field("estimated_delivery_at"),
        },
        order_id=order_id,
        shipment_id=fulfillment_id,
        status=status,
        message=root.opt_text("message"),
        estimated_delivery_at=root.opt_time("estimated_delivery_at"),
    )
    when = first_time(root, ("happened_at", "created_at"), delivery.fallback_time)
    who = order_key(root)
    event_id = root.ident("id")
    events: list[ShopEvent] = [
        delivery.event(
            ShipmentStatusChangedEvent,
            event_id=delivery.per_entity_id(
                "fulfillment_events", event_id, "shipment.status_changed"
            ),
            when=when,
            who=who,
            data=data,
        )
    ]
    if data.status is ShipmentStatus.DELIVERED:
        events.append(
            delivery.event(
                ShipmentDeliveredEvent,
                event_id=delivery.per_entity_id(
                    "fulfillments", fulfillment_id, "shipment.delivered"
                ),
                when=when,
                who=who,
                data=ShipmentDelivered(order_id=data.order_id, shipment_id=data.shipment_id),
            )
        )
    return events
