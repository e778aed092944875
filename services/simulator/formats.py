"""Actions as HTTP requests to ingest, in the wire format of each simulated shop.

A shop speaks one format (Shopify webhooks, Segment calls, or Nudge's native events), as a
real one does, and uses the native API for what its format cannot say, as real integrations
do: Shopify sends no product views (a storefront pixel does), Segment's spec has no consent
and no shipments. docs/SIMULATOR.md has the table of action, format and event.

Every id is derived from the seed, the shop, the customer and the action's place in their
timeline, so a rerun sends byte-identical requests, and a retried or duplicated delivery is
recognisable by ingest's deduplication.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final

import orjson

from services.simulator.behaviour import (
    CARRIER,
    Action,
    Cancellation,
    Cart,
    CartChange,
    Checkout,
    Kind,
    Line,
    Order,
    Shipment,
    ShipmentUpdate,
    Viewed,
)
from services.simulator.population import Customer
from services.simulator.products import CURRENCY, Product

SHOPIFY_API_VERSION: Final = "2025-10"
MAX_BATCH_ITEMS: Final = 100
"""Events or calls per native or Segment request (ingest takes up to 1,000)."""
CONSENT_SOURCE: Final = "signup_form"


class Format(StrEnum):
    """How a simulated shop talks to ingest."""

    SHOPIFY = "shopify"
    SEGMENT = "segment"
    NATIVE = "native"


class Door(StrEnum):
    """Ingest's API families: the path a part goes through."""

    SHOPIFY = "shopify"
    SEGMENT = "segment"
    NATIVE = "native"


@dataclass(frozen=True)
class ShopKeys:
    """A simulated shop: its format and the credentials ingest knows it by."""

    shop_id: str
    format: Format
    api_key: str
    webhook_secret: str

    @property
    def shopify_domain(self) -> str:
        return f"{self.shop_id}.myshopify.com"


@dataclass(frozen=True, slots=True)
class Part:
    """One unit a door takes: a Shopify webhook, a Segment call or a native event."""

    door: Door
    action: Action
    body: dict[str, Any]
    ref: str
    """The webhook id, Segment messageId or native event id."""
    topic: str | None = None
    """Shopify's topic (webhooks only)."""
    expect_duplicate: bool = False
    """Ingest must answer `duplicate`: orders/paid repeats orders/create's fact."""


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A POST to ingest, ready to send (and to send again, byte for byte)."""

    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    door: Door
    label: str
    shop: str
    customers: tuple[str, ...]
    """Keys of the customers whose actions it carries, each once."""
    due: datetime
    """The simulated time of its latest action: when it is to be sent."""
    refs: tuple[str, ...]
    actions: tuple[Action, ...]
    """The action of each part, in order (an action may give several parts)."""
    expect_duplicate: bool = False


def _z(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _amount(value: Decimal) -> str:
    return f"{value:.2f}"


def _money(value: Decimal) -> dict[str, str]:
    return {"amount": _amount(value), "currency": CURRENCY}


def _event_id(action: Action, purpose: str = "") -> str:
    return f"sim-{action.ref(purpose)}"


def _webhook_id(action: Action, topic: str) -> str:
    return str(uuid.UUID(hex=action.ref(topic)))


# --- native events ---------------------------------------------------------------------


def _product_ref(product: Product, shop: str) -> dict[str, Any]:
    return {
        "product_id": product.product_id,
        "variant_id": product.variant_id,
        "sku": product.sku,
        "title": product.title,
        "category": product.category,
        "brand": product.brand,
        "price": _money(product.price),
        "url": product.url(shop),
        "image_url": product.image_url(shop),
    }


def _item(line: Line, shop: str) -> dict[str, Any]:
    return {**_product_ref(line.product, shop), "quantity": line.quantity}


def _recovery_url(shop: str, token: str) -> str:
    return f"https://{shop}.example.com/cart/{token}"


def _consent(customer: Customer, at: datetime) -> dict[str, Any]:
    def channel(granted: bool) -> dict[str, str]:
        status = "granted" if granted else "denied"
        return {"status": status, "source": CONSENT_SOURCE, "recorded_at": _z(at)}

    consent: dict[str, Any] = {"email": channel(customer.email_consent)}
    if customer.phone is not None:
        consent["sms"] = channel(customer.sms_consent)
    return consent


def _contact(customer: Customer, at: datetime) -> dict[str, Any]:
    data: dict[str, Any] = {
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "locale": customer.locale,
        "time_zone": customer.time_zone,
        "consent": _consent(customer, at),
    }
    if customer.phone is not None:
        data["phone"] = customer.phone
    if customer.birthday is not None:
        data["birthday"] = customer.birthday.isoformat()
    return data


def _native(action: Action, event_type: str, data: dict[str, Any], purpose: str = "") -> Part:
    event_id = _event_id(action, purpose or event_type)
    body = {
        "id": event_id,
        "type": event_type,
        "time": _z(action.at),
        "customerid": action.customer.customer_id,
        "data": data,
    }
    return Part(Door.NATIVE, action, body, event_id)


def _shipment_data(shipment: Shipment, shop: str) -> dict[str, Any]:
    order = shipment.order
    return {
        "order_id": order.order_id,
        "shipment_id": shipment.shipment_id,
        "carrier": CARRIER,
        "tracking_number": shipment.tracking_number,
        "tracking_url": _tracking_url(shipment),
        "items": [_item(line, shop) for line in order.lines],
    }


def _tracking_url(shipment: Shipment) -> str:
    return f"https://track.example.com/{shipment.tracking_number}"


def _status_parts(action: Action, update: ShipmentUpdate) -> list[Part]:
    ids = {"order_id": update.shipment.order.order_id, "shipment_id": update.shipment.shipment_id}
    changed = _native(
        action,
        "shipment.status_changed",
        {**ids, "status": update.status, "message": _status_message(update.status)},
    )
    if update.status != "delivered":
        return [changed]
    return [changed, _native(action, "shipment.delivered", ids)]


def _status_message(status: str) -> str:
    return "Out for delivery" if status == "out_for_delivery" else "Delivered"


def native_parts(action: Action) -> list[Part]:
    """The native events that say what `action` says."""
    shop = action.customer.shop
    detail = action.detail
    match action.kind:
        case Kind.SIGNED_UP:
            return [_native(action, "customer.created", _contact(action.customer, action.at))]
        case Kind.PROFILE:
            return [_native(action, "customer.updated", _contact(action.customer, action.at))]
        case Kind.VIEWED:
            assert isinstance(detail, Viewed)
            return [
                _native(action, "product.viewed", {"product": _product_ref(detail.product, shop)})
            ]
        case Kind.ADDED_TO_CART:
            assert isinstance(detail, CartChange)
            cart = detail.cart
            added = {"cart_id": cart.cart_id, "item": _item(detail.added, shop)}
            return [
                _native(action, "product.added", added),
                _native(action, "cart.updated", _cart_data(cart, shop)),
            ]
        case Kind.CHECKOUT_STARTED:
            assert isinstance(detail, Checkout)
            return [_native(action, "checkout.started", _checkout_data(detail, shop))]
        case Kind.ORDER_PLACED:
            assert isinstance(detail, Order)
            return [_native(action, "order.placed", _order_data(detail, shop))]
        case Kind.ORDER_CANCELLED:
            assert isinstance(detail, Cancellation)
            data = {"order_id": detail.order.order_id, "reason": detail.reason}
            return [_native(action, "order.cancelled", data)]
        case Kind.SHIPPED:
            assert isinstance(detail, Shipment)
            return [_native(action, "shipment.created", _shipment_data(detail, shop))]
        case Kind.OUT_FOR_DELIVERY | Kind.DELIVERED:
            assert isinstance(detail, ShipmentUpdate)
            return _status_parts(action, detail)
    raise AssertionError(f"unhandled action kind {action.kind}")


def _cart_data(cart: Cart, shop: str) -> dict[str, Any]:
    return {
        "cart_id": cart.cart_id,
        "items": [_item(line, shop) for line in cart.lines],
        "value": _money(cart.value),
        "recovery_url": _recovery_url(shop, cart.cart_id),
    }


def _checkout_data(checkout: Checkout, shop: str) -> dict[str, Any]:
    return {
        "checkout_id": checkout.checkout_id,
        "cart_id": checkout.cart.cart_id,
        "items": [_item(line, shop) for line in checkout.cart.lines],
        "value": _money(checkout.cart.value),
        "recovery_url": _recovery_url(shop, checkout.cart.cart_id),
    }


def _order_data(order: Order, shop: str) -> dict[str, Any]:
    return {
        "order_id": order.order_id,
        "order_number": order.number,
        "checkout_id": order.checkout.checkout_id,
        "items": [_item(line, shop) for line in order.lines],
        "subtotal": _money(order.subtotal),
        "shipping": _money(order.shipping),
        "total": _money(order.total),
        "status_url": f"https://{shop}.example.com/orders/{order.order_id}",
    }


# --- Segment calls ---------------------------------------------------------------------


def _segment(action: Action, call: dict[str, Any], purpose: str) -> Part:
    customer = action.customer
    message_id = _event_id(action, purpose)
    body = {
        **call,
        "userId": customer.customer_id,
        "messageId": message_id,
        "timestamp": _z(action.at),
        "context": {
            "locale": customer.locale,
            "timezone": customer.time_zone,
            "library": {"name": "nudge-simulator", "version": "1"},
        },
    }
    return Part(Door.SEGMENT, action, body, message_id)


def _track(action: Action, event: str, properties: dict[str, Any]) -> Part:
    call = {"type": "track", "event": event, "properties": properties}
    return _segment(action, call, event)


def _spec_product(product: Product, shop: str) -> dict[str, Any]:
    return {
        "product_id": product.product_id,
        "sku": product.sku,
        "category": product.category,
        "name": product.title,
        "brand": product.brand,
        "variant": product.variant_id,
        "price": float(product.price),
        "url": product.url(shop),
        "image_url": product.image_url(shop),
    }


def _spec_line(line: Line, shop: str) -> dict[str, Any]:
    return {**_spec_product(line.product, shop), "quantity": line.quantity}


def _identify(action: Action) -> Part:
    customer = action.customer
    traits: dict[str, Any] = {
        "email": customer.email,
        "firstName": customer.first_name,
        "lastName": customer.last_name,
    }
    if customer.phone is not None:
        traits["phone"] = customer.phone
    if customer.birthday is not None:
        traits["birthday"] = customer.birthday.isoformat()
    return _segment(action, {"type": "identify", "traits": traits}, "identify")


def _subscriptions(action: Action) -> list[Part]:
    """A sign-up form's consent, which the Segment spec cannot carry: native events."""
    customer = action.customer
    parts = []
    if customer.email_consent:
        data = {
            "channel": "email",
            "status": "subscribed",
            "source": CONSENT_SOURCE,
            "email": customer.email,
        }
        parts.append(_native(action, "subscription.changed", data, "subscription/email"))
    if customer.sms_consent and customer.phone is not None:
        data = {
            "channel": "sms",
            "status": "subscribed",
            "source": CONSENT_SOURCE,
            "phone": customer.phone,
        }
        parts.append(_native(action, "subscription.changed", data, "subscription/sms"))
    return parts


def segment_parts(action: Action) -> list[Part]:
    """Segment calls, and native events for what the Segment spec cannot say."""
    shop = action.customer.shop
    detail = action.detail
    match action.kind:
        case Kind.SIGNED_UP:
            return [_identify(action), *_subscriptions(action)]
        case Kind.PROFILE:
            consent = {"consent": _consent(action.customer, action.at)}
            return [_identify(action), _native(action, "customer.updated", consent)]
        case Kind.VIEWED:
            assert isinstance(detail, Viewed)
            props = {**_spec_product(detail.product, shop), "currency": CURRENCY}
            return [_track(action, "Product Viewed", props)]
        case Kind.ADDED_TO_CART:
            assert isinstance(detail, CartChange)
            props = {
                "cart_id": detail.cart.cart_id,
                **_spec_line(detail.added, shop),
                "currency": CURRENCY,
            }
            return [_track(action, "Product Added", props)]
        case Kind.CHECKOUT_STARTED:
            assert isinstance(detail, Checkout)
            props = {
                "checkout_id": detail.checkout_id,
                "cart_id": detail.cart.cart_id,
                "value": float(detail.cart.value),
                "currency": CURRENCY,
                "products": [_spec_line(line, shop) for line in detail.cart.lines],
            }
            return [_track(action, "Checkout Started", props)]
        case Kind.ORDER_PLACED:
            assert isinstance(detail, Order)
            props = {
                "order_id": detail.order_id,
                "checkout_id": detail.checkout.checkout_id,
                "total": float(detail.total),
                "subtotal": float(detail.subtotal),
                "shipping": float(detail.shipping),
                "currency": CURRENCY,
                "products": [_spec_line(line, shop) for line in detail.lines],
            }
            return [_track(action, "Order Completed", props)]
        case Kind.ORDER_CANCELLED:
            assert isinstance(detail, Cancellation)
            props = {"order_id": detail.order.order_id, "reason": detail.reason}
            return [_track(action, "Order Cancelled", props)]
        case Kind.SHIPPED | Kind.OUT_FOR_DELIVERY | Kind.DELIVERED:
            return native_parts(action)
    raise AssertionError(f"unhandled action kind {action.kind}")


# --- Shopify webhooks ------------------------------------------------------------------


def _set(value: Decimal) -> dict[str, dict[str, str]]:
    money = {"amount": _amount(value), "currency_code": CURRENCY}
    return {"shop_money": money, "presentment_money": money}


def _shopify_line(line: Line, *, with_sets: bool = False) -> dict[str, Any]:
    product = line.product
    body: dict[str, Any] = {
        "id": int(product.variant_id),
        "product_id": int(product.product_id),
        "variant_id": int(product.variant_id),
        "title": product.title,
        "sku": product.sku,
        "vendor": product.brand,
        "product_type": product.category,
        "quantity": line.quantity,
        "price": _amount(product.price),
        "line_price": _amount(line.total),
        "taxable": True,
        "requires_shipping": True,
    }
    if with_sets:
        body["price_set"] = _set(product.price)
        body["line_price_set"] = _set(line.total)
    return body


def _shopify_customer(customer: Customer, at: datetime) -> dict[str, Any]:
    def consent(granted: bool) -> dict[str, Any]:
        return {
            "state": "subscribed" if granted else "not_subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": _z(at),
        }

    body: dict[str, Any] = {
        "id": int(customer.customer_id),
        "email": customer.email,
        "created_at": _z(at),
        "updated_at": _z(at),
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "state": "enabled",
        "verified_email": True,
        "tags": "",
        "currency": CURRENCY,
        "phone": customer.phone,
        "locale": customer.locale,
        "email_marketing_consent": consent(customer.email_consent),
    }
    if customer.phone is not None:
        body["sms_marketing_consent"] = {
            **consent(customer.sms_consent),
            "consent_collected_from": "SHOPIFY",
        }
    return body


def _buyer(customer: Customer) -> dict[str, Any]:
    return {
        "id": int(customer.customer_id),
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "phone": customer.phone,
    }


def _webhook(action: Action, topic: str, body: dict[str, Any], *, duplicate: bool = False) -> Part:
    return Part(Door.SHOPIFY, action, body, _webhook_id(action, topic), topic, duplicate)


def _shopify_checkout(checkout: Checkout, customer: Customer, at: datetime) -> dict[str, Any]:
    cart = checkout.cart
    return {
        "id": int(checkout.checkout_id),
        "token": checkout.token,
        "cart_token": cart.cart_id,
        "email": customer.email,
        "created_at": _z(at),
        "updated_at": _z(at),
        "currency": CURRENCY,
        "presentment_currency": CURRENCY,
        "customer_locale": customer.locale,
        "line_items": [_shopify_line(line) for line in cart.lines],
        "subtotal_price": _amount(cart.value),
        "total_tax": "0.00",
        "total_price": _amount(cart.value),
        "abandoned_checkout_url": _recovery_url(customer.shop, checkout.token),
        "customer": _buyer(customer),
    }


def _shopify_order(order: Order, customer: Customer, at: datetime) -> dict[str, Any]:
    cart = order.checkout.cart
    return {
        "id": int(order.order_id),
        "name": order.number,
        "email": customer.email,
        "created_at": _z(at),
        "processed_at": _z(at),
        "updated_at": _z(at),
        "currency": CURRENCY,
        "presentment_currency": CURRENCY,
        "financial_status": "paid",
        "checkout_id": int(order.checkout.checkout_id),
        "checkout_token": order.checkout.token,
        "cart_token": cart.cart_id,
        "customer_locale": customer.locale,
        "subtotal_price": _amount(order.subtotal),
        "total_discounts": "0.00",
        "total_tax": "0.00",
        "total_price": _amount(order.total),
        "total_shipping_price_set": _set(order.shipping),
        "discount_codes": [],
        "line_items": [_shopify_line(line) for line in order.lines],
        "order_status_url": f"https://{customer.shop}.example.com/orders/{order.order_id}",
        "customer": _buyer(customer),
    }


def _shopify_status(update: ShipmentUpdate, at: datetime) -> dict[str, Any]:
    return {
        "id": int(update.update_id),
        "fulfillment_id": int(update.shipment.shipment_id),
        "order_id": int(update.shipment.order.order_id),
        "status": update.status,
        "message": _status_message(update.status),
        "happened_at": _z(at),
        "created_at": _z(at),
        "updated_at": _z(at),
        "estimated_delivery_at": None,
    }


def shopify_parts(action: Action) -> list[Part]:
    """Shopify webhooks; native events for product views (a storefront pixel's job)."""
    customer = action.customer
    at = action.at
    detail = action.detail
    match action.kind:
        case Kind.SIGNED_UP:
            return [_webhook(action, "customers/create", _shopify_customer(customer, at))]
        case Kind.PROFILE:
            return [_webhook(action, "customers/update", _shopify_customer(customer, at))]
        case Kind.VIEWED:
            return native_parts(action)
        case Kind.ADDED_TO_CART:
            assert isinstance(detail, CartChange)
            cart = detail.cart
            body: dict[str, Any] = {
                "id": cart.cart_id,
                "token": cart.cart_id,
                "line_items": [_shopify_line(line, with_sets=True) for line in cart.lines],
                "note": None,
                "created_at": _z(at),
                "updated_at": _z(at),
            }
            return [_webhook(action, "carts/update", body)]
        case Kind.CHECKOUT_STARTED:
            assert isinstance(detail, Checkout)
            body = _shopify_checkout(detail, customer, at)
            return [_webhook(action, "checkouts/create", body)]
        case Kind.ORDER_PLACED:
            assert isinstance(detail, Order)
            body = _shopify_order(detail, customer, at)
            return [
                _webhook(action, "orders/create", body),
                _webhook(action, "orders/paid", body, duplicate=True),
            ]
        case Kind.ORDER_CANCELLED:
            assert isinstance(detail, Cancellation)
            body = {
                **_shopify_order(detail.order, customer, at),
                "cancelled_at": _z(at),
                "cancel_reason": detail.reason,
                "financial_status": "refunded",
            }
            return [_webhook(action, "orders/cancelled", body)]
        case Kind.SHIPPED:
            assert isinstance(detail, Shipment)
            body = {
                "id": int(detail.shipment_id),
                "order_id": int(detail.order.order_id),
                "name": f"{detail.order.number}.1",
                "status": "success",
                "service": "manual",
                "created_at": _z(at),
                "updated_at": _z(at),
                "tracking_company": CARRIER,
                "tracking_number": detail.tracking_number,
                "tracking_numbers": [detail.tracking_number],
                "tracking_url": _tracking_url(detail),
                "tracking_urls": [_tracking_url(detail)],
                "shipment_status": None,
                "line_items": [_shopify_line(line) for line in detail.order.lines],
            }
            return [_webhook(action, "fulfillments/create", body)]
        case Kind.OUT_FOR_DELIVERY | Kind.DELIVERED:
            assert isinstance(detail, ShipmentUpdate)
            return [_webhook(action, "fulfillment_events/create", _shopify_status(detail, at))]
    raise AssertionError(f"unhandled action kind {action.kind}")


PARTS: Final = {
    Format.SHOPIFY: shopify_parts,
    Format.SEGMENT: segment_parts,
    Format.NATIVE: native_parts,
}


def parts(action: Action, format: Format) -> list[Part]:
    return PARTS[format](action)


# --- requests --------------------------------------------------------------------------


def _json_headers(*extra: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return (("Content-Type", "application/json"), *extra)


def shopify_signature(secret: str, body: bytes) -> str:
    """X-Shopify-Hmac-Sha256: base64 of the HMAC-SHA256 of the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _customers(batch: list[Part]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(part.action.customer.key for part in batch))


def _due(batch: list[Part]) -> datetime:
    return max(part.action.at for part in batch)


def shopify_request(shop: ShopKeys, part: Part) -> HttpRequest:
    assert part.topic is not None
    body = orjson.dumps(part.body)
    headers = _json_headers(
        ("X-Shopify-Topic", part.topic),
        ("X-Shopify-Hmac-Sha256", shopify_signature(shop.webhook_secret, body)),
        ("X-Shopify-Shop-Domain", shop.shopify_domain),
        ("X-Shopify-Webhook-Id", part.ref),
        ("X-Shopify-Triggered-At", _z(part.action.at)),
        ("X-Shopify-API-Version", SHOPIFY_API_VERSION),
    )
    return HttpRequest(
        "/v1/webhooks/shopify",
        headers,
        body,
        Door.SHOPIFY,
        f"shopify {part.topic}",
        shop.shop_id,
        _customers([part]),
        part.action.at,
        (part.ref,),
        (part.action,),
        part.expect_duplicate,
    )


def native_request(shop: ShopKeys, batch: list[Part]) -> HttpRequest:
    body = orjson.dumps({"events": [part.body for part in batch]})
    headers = _json_headers(("Authorization", f"Bearer {shop.api_key}"))
    return HttpRequest(
        "/v1/events",
        headers,
        body,
        Door.NATIVE,
        "native events",
        shop.shop_id,
        _customers(batch),
        _due(batch),
        tuple(part.ref for part in batch),
        tuple(part.action for part in batch),
    )


def segment_request(shop: ShopKeys, batch: list[Part]) -> HttpRequest:
    """One call to /v1/track or /v1/identify; several to /v1/batch, as Segment's libraries
    flush their queue."""
    basic = base64.b64encode(f"{shop.api_key}:".encode()).decode()
    headers = _json_headers(("Authorization", f"Basic {basic}"))
    if len(batch) == 1:
        call = batch[0].body
        path = f"/v1/{call['type']}"
        body = orjson.dumps(call)
        label = f"segment {call['type']}"
    else:
        path = "/v1/batch"
        body = orjson.dumps({"batch": [part.body for part in batch]})
        label = "segment batch"
    return HttpRequest(
        path,
        headers,
        body,
        Door.SEGMENT,
        label,
        shop.shop_id,
        _customers(batch),
        _due(batch),
        tuple(part.ref for part in batch),
        tuple(part.action for part in batch),
    )


@dataclass
class _Batch:
    shop: ShopKeys
    door: Door
    parts: list[Part] = field(default_factory=list)


class Batcher:
    """Packs the parts of a send moment into requests: one per Shopify webhook; native events
    and Segment calls batched per shop and door, at most `max_items` a request.

    Requests come out in the order they were opened, and a part never joins a request opened
    before the latest one holding an earlier part of the same customer: sent in that order,
    each customer's requests keep the order of their actions.
    """

    def __init__(self, shops: Mapping[str, ShopKeys], max_items: int = MAX_BATCH_ITEMS) -> None:
        if max_items < 1:
            raise ValueError("max_items must be at least 1")
        self._shops = shops
        self._max_items = max_items
        self._batches: list[_Batch] = []
        self._open: dict[tuple[str, Door], int] = {}
        self._latest: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._batches)

    def add(self, action: Action) -> None:
        shop = self._shops[action.customer.shop]
        for part in parts(action, shop.format):
            self._place(shop, part)

    def _place(self, shop: ShopKeys, part: Part) -> None:
        customer = part.action.customer.key
        at = self._open.get((shop.shop_id, part.door))
        if (
            part.door is Door.SHOPIFY
            or at is None
            or len(self._batches[at].parts) >= self._max_items
            or at < self._latest.get(customer, -1)
        ):
            at = len(self._batches)
            self._batches.append(_Batch(shop, part.door))
            self._open[shop.shop_id, part.door] = at
        self._batches[at].parts.append(part)
        self._latest[customer] = at

    def flush(self) -> list[HttpRequest]:
        """The requests of everything added since the last flush, in sending order."""
        requests = [_request(batch) for batch in self._batches]
        self._batches = []
        self._open = {}
        self._latest = {}
        return requests


def _request(batch: _Batch) -> HttpRequest:
    if batch.door is Door.SHOPIFY:
        return shopify_request(batch.shop, batch.parts[0])
    if batch.door is Door.SEGMENT:
        return segment_request(batch.shop, batch.parts)
    return native_request(batch.shop, batch.parts)


def render(actions: list[Action], shops: Mapping[str, ShopKeys]) -> list[HttpRequest]:
    """All of `actions` as one send moment's requests (for tests and tools)."""
    batcher = Batcher(shops)
    for action in actions:
        batcher.add(action)
    return batcher.flush()
