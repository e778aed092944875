"""Every shop event type: the envelope with a fixed `type` and its typed `data`.

`ShopEvent` is the discriminated union that `shop.events.v1` carries; parse with
`parse_shop_event` / `SHOP_EVENT` and the `type` attribute picks the model.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field, TypeAdapter

from shared.events import shop
from shared.events.envelope import EventEnvelope
from shared.events.types import VALIDATED_UPSTREAM


class CustomerCreatedEvent(EventEnvelope):
    type: Literal["customer.created"] = "customer.created"
    data: shop.CustomerCreated


class CustomerUpdatedEvent(EventEnvelope):
    type: Literal["customer.updated"] = "customer.updated"
    data: shop.CustomerUpdated


class CustomerIdentifiedEvent(EventEnvelope):
    type: Literal["customer.identified"] = "customer.identified"
    data: shop.CustomerIdentified


class ProductViewedEvent(EventEnvelope):
    type: Literal["product.viewed"] = "product.viewed"
    data: shop.ProductViewed


class ProductAddedEvent(EventEnvelope):
    type: Literal["product.added"] = "product.added"
    data: shop.ProductAdded


class ProductRemovedEvent(EventEnvelope):
    type: Literal["product.removed"] = "product.removed"
    data: shop.ProductRemoved


class CartUpdatedEvent(EventEnvelope):
    type: Literal["cart.updated"] = "cart.updated"
    data: shop.CartUpdated


class CheckoutStartedEvent(EventEnvelope):
    type: Literal["checkout.started"] = "checkout.started"
    data: shop.CheckoutStarted


class OrderPlacedEvent(EventEnvelope):
    type: Literal["order.placed"] = "order.placed"
    data: shop.OrderPlaced


class OrderCancelledEvent(EventEnvelope):
    type: Literal["order.cancelled"] = "order.cancelled"
    data: shop.OrderCancelled


class OrderRefundedEvent(EventEnvelope):
    type: Literal["order.refunded"] = "order.refunded"
    data: shop.OrderRefunded


class ShipmentCreatedEvent(EventEnvelope):
    type: Literal["shipment.created"] = "shipment.created"
    data: shop.ShipmentCreated


class ShipmentStatusChangedEvent(EventEnvelope):
    type: Literal["shipment.status_changed"] = "shipment.status_changed"
    data: shop.ShipmentStatusChanged


class ShipmentDeliveredEvent(EventEnvelope):
    type: Literal["shipment.delivered"] = "shipment.delivered"
    data: shop.ShipmentDelivered


class SubscriptionChangedEvent(EventEnvelope):
    type: Literal["subscription.changed"] = "subscription.changed"
    data: shop.SubscriptionChanged


ShopEvent = Annotated[
    CustomerCreatedEvent
    | CustomerUpdatedEvent
    | CustomerIdentifiedEvent
    | ProductViewedEvent
    | ProductAddedEvent
    | ProductRemovedEvent
    | CartUpdatedEvent
    | CheckoutStartedEvent
    | OrderPlacedEvent
    | OrderCancelledEvent
    | OrderRefundedEvent
    | ShipmentCreatedEvent
    | ShipmentStatusChangedEvent
    | ShipmentDeliveredEvent
    | SubscriptionChangedEvent,
    Field(discriminator="type"),
]

SHOP_EVENT: Final[TypeAdapter[ShopEvent]] = TypeAdapter(ShopEvent)

EVENT_TYPES: Final[dict[str, type[EventEnvelope]]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        CustomerCreatedEvent,
        CustomerUpdatedEvent,
        CustomerIdentifiedEvent,
        ProductViewedEvent,
        ProductAddedEvent,
        ProductRemovedEvent,
        CartUpdatedEvent,
        CheckoutStartedEvent,
        OrderPlacedEvent,
        OrderCancelledEvent,
        OrderRefundedEvent,
        ShipmentCreatedEvent,
        ShipmentStatusChangedEvent,
        ShipmentDeliveredEvent,
        SubscriptionChangedEvent,
    )
}


def parse_shop_event(raw: bytes | str) -> ShopEvent:
    """Parse one record value of `shop.events.v1`; raises pydantic.ValidationError."""
    return SHOP_EVENT.validate_json(raw)


def parse_shop_event_validated_upstream(raw: bytes | str) -> ShopEvent:
    """Parse a record of `shop.events.v1` for the stream workers: ingest wrote it after the
    full checks, so emails and phone numbers get a shape check of their normalised form only
    (`VALIDATED_UPSTREAM`). Everything else is validated as by `parse_shop_event`, so a
    malformed record is still refused with its reason and parked.

    Not for input from outside: an address email_validator refuses for its domain
    (`anna@example`) passes here, where `parse_shop_event` refuses it.
    """
    return SHOP_EVENT.validate_json(raw, context=VALIDATED_UPSTREAM)


def dump_shop_event(event: EventEnvelope) -> bytes:
    """The wire form: compact JSON, nulls left out, decimals as strings."""
    return event.model_dump_json(exclude_none=True).encode()
