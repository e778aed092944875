"""The data of each shop event: what happened at the shop, named in the past tense.

These are the facts the campaign catalog reacts to (sign-ups, views, carts, checkouts,
orders, shipments, consent changes). Adapters in the ingest service map Shopify webhooks and
Segment calls onto them; shops may also send them natively.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from shared.events.types import (
    Email,
    HttpUrl,
    Id,
    Locale,
    Model,
    Money,
    PhoneE164,
    Timestamp,
    TimeZoneName,
)

Text = Annotated[str, Field(max_length=1000)]


class Channel(StrEnum):
    """A channel Nudge can send on."""

    EMAIL = "email"
    SMS = "sms"


class ConsentStatus(StrEnum):
    GRANTED = "granted"
    DENIED = "denied"


class ChannelConsent(Model):
    """Marketing consent for one channel, with where and when it was given or withdrawn."""

    status: ConsentStatus
    source: Annotated[str, Field(min_length=1, max_length=100)]
    """Where the consent came from, e.g. `checkout`, `signup_form`, `sms_keyword`, `shopify`."""
    recorded_at: Timestamp


class Consent(Model):
    email: ChannelConsent | None = None
    sms: ChannelConsent | None = None


class CustomerData(Model):
    """A customer's contact details as the shop knows them. Null means not known."""

    email: Email | None = None
    phone: PhoneE164 | None = None
    first_name: Annotated[str, Field(max_length=100)] | None = None
    last_name: Annotated[str, Field(max_length=100)] | None = None
    locale: Locale | None = None
    time_zone: TimeZoneName | None = None
    birthday: date | None = None
    consent: Consent = Consent()
    tags: Annotated[list[Annotated[str, Field(max_length=100)]], Field(max_length=100)] = Field(
        default_factory=list
    )


class CustomerCreated(CustomerData):
    """A customer signed up or was created at the shop."""


class CustomerUpdated(CustomerData):
    """A customer's details changed; consumers merge the non-null fields."""


class CustomerIdentified(Model):
    """An anonymous visitor turned out to be a known customer.

    Published under the anonymous visitor's key so that the state kept for the visitor can be
    handed over to the customer's key by whoever owns it (README, "Anonymous visitors").
    """

    anonymous_id: Id
    customer_id: Id


class ProductRef(Model):
    product_id: Id
    variant_id: Id | None = None
    sku: Annotated[str, Field(max_length=255)] | None = None
    title: Annotated[str, Field(max_length=500)] | None = None
    category: Annotated[str, Field(max_length=255)] | None = None
    brand: Annotated[str, Field(max_length=255)] | None = None
    price: Money | None = None
    url: HttpUrl | None = None
    image_url: HttpUrl | None = None


class LineItem(ProductRef):
    quantity: Annotated[int, Field(ge=1, le=100_000)] = 1


class ProductViewed(Model):
    product: ProductRef


class ProductAdded(Model):
    cart_id: Id | None = None
    item: LineItem


class ProductRemoved(Model):
    cart_id: Id | None = None
    item: LineItem


Items = Annotated[list[LineItem], Field(max_length=1000)]


class CartUpdated(Model):
    """The cart's full contents after a change; an empty item list means the cart was emptied."""

    cart_id: Id
    items: Items
    value: Money
    recovery_url: HttpUrl | None = None


class CheckoutStarted(Model):
    checkout_id: Id
    cart_id: Id | None = None
    items: Items
    value: Money
    recovery_url: HttpUrl | None = None


class OrderPlaced(Model):
    order_id: Id
    order_number: Annotated[str, Field(max_length=64)] | None = None
    checkout_id: Id | None = None
    items: Annotated[list[LineItem], Field(min_length=1, max_length=1000)]
    subtotal: Money | None = None
    discounts: Money | None = None
    shipping: Money | None = None
    tax: Money | None = None
    total: Money
    discount_codes: Annotated[list[Annotated[str, Field(max_length=255)]], Field(max_length=50)] = (
        Field(default_factory=list)
    )
    status_url: HttpUrl | None = None

    @model_validator(mode="after")
    def _one_currency(self) -> OrderPlaced:
        """An order is priced in one currency; mixed currencies mean a broken mapping."""
        amounts = [self.subtotal, self.discounts, self.shipping, self.tax]
        currencies = {m.currency for m in amounts if m is not None} | {self.total.currency}
        if len(currencies) > 1:
            raise ValueError(f"order amounts use several currencies: {sorted(currencies)}")
        return self


class OrderCancelled(Model):
    order_id: Id
    reason: Text | None = None


class OrderRefunded(Model):
    order_id: Id
    refund_id: Id
    amount: Money
    items: Items = Field(default_factory=list)
    reason: Text | None = None


class ShipmentCreated(Model):
    order_id: Id
    shipment_id: Id
    carrier: Annotated[str, Field(max_length=255)] | None = None
    tracking_number: Annotated[str, Field(max_length=255)] | None = None
    tracking_url: HttpUrl | None = None
    items: Items = Field(default_factory=list)


class ShipmentStatus(StrEnum):
    """Carrier milestones, following Shopify's fulfillment event statuses."""

    LABEL_PRINTED = "label_printed"
    LABEL_PURCHASED = "label_purchased"
    CONFIRMED = "confirmed"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    ATTEMPTED_DELIVERY = "attempted_delivery"
    READY_FOR_PICKUP = "ready_for_pickup"
    PICKED_UP = "picked_up"
    DELIVERED = "delivered"
    DELAYED = "delayed"
    FAILURE = "failure"
    CARRIER_PICKED_UP = "carrier_picked_up"


class ShipmentStatusChanged(Model):
    order_id: Id
    shipment_id: Id
    status: ShipmentStatus
    message: Text | None = None
    estimated_delivery_at: Timestamp | None = None
    tracking_url: HttpUrl | None = None


class ShipmentDelivered(Model):
    order_id: Id
    shipment_id: Id


class SubscriptionStatus(StrEnum):
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"


class SubscriptionChanged(Model):
    """The customer subscribed to or unsubscribed from marketing on one channel."""

    channel: Channel
    status: SubscriptionStatus
    source: Annotated[str, Field(min_length=1, max_length=100)]
    email: Email | None = None
    phone: PhoneE164 | None = None
