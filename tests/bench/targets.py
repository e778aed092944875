"""Request bodies for the load generator, written before the clock starts.

vegeta replays targets from a file, so all the Python work (building, signing, encoding) is
done up front and the measured run spends no Python CPU on the client side. Every request is
unique: ingest drops event ids it has already acknowledged, so replaying a body would measure
the dedup path instead of publishing.
"""

from __future__ import annotations

import base64
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from services.ingest.access import sign_shopify
from shared import unsubscribe
from shared.keyring import LinkKeys
from shared.unsubscribe import Unsubscribe
from tests.support import twilio

ROOT = Path(__file__).resolve().parents[2]
SHOPIFY_ORDER_FIXTURE = ROOT / "tests" / "fixtures" / "shopify" / "orders_create.json"
CUSTOMERS = 50_000
"""Distinct customers the native events spread over, so keys cover every partition."""
EVENT_TIME = "2026-11-23T10:15:00+01:00"


@dataclass(frozen=True)
class Counter:
    """Hands out unique numbers across every file of one run (warm-up and measurement)."""

    run_id: str
    numbers: Iterator[int]

    @classmethod
    def starting_at(cls, run_id: str, first: int) -> Counter:
        return cls(run_id, itertools.count(first))

    def next(self) -> int:
        return next(self.numbers)


def target_line(url: str, headers: dict[str, str], body: bytes) -> bytes:
    """One target in vegeta's JSON format (`-format=json`): body base64, headers as lists."""
    target = {
        "method": "POST",
        "url": url,
        "header": {name: [value] for name, value in headers.items()},
        "body": base64.b64encode(body).decode(),
    }
    return orjson.dumps(target) + b"\n"


def write_targets(path: Path, lines: Iterable[bytes]) -> int:
    """Write the targets; returns how many, so the caller knows when vegeta will run dry."""
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("wb") as out:
        for line in lines:
            out.write(line)
            count += 1
    return count


# --- native batches -------------------------------------------------------------------------


def _product(n: int) -> dict[str, Any]:
    product = n % 400
    return {
        "product_id": f"p-{product}",
        "variant_id": f"v-{product}-{n % 3}",
        "sku": f"SKU-{product:05d}",
        "title": f"Single origin coffee no. {product}, 250 g",
        "category": "coffee",
        "price": {"amount": f"{9 + product % 30}.90", "currency": "EUR"},
        "url": f"https://shop.example.com/products/{product}",
    }


def _line_item(n: int) -> dict[str, Any]:
    return {**_product(n), "quantity": 1 + n % 3}


def native_event(n: int, run_id: str) -> dict[str, Any]:
    """A storefront's typical mix: half product views (some anonymous), adds, orders.

    Ids are unique per run (`bench-<run>-<n>`); customers repeat, as real ones do.
    """
    customer = f"c-{(n * 7919) % CUSTOMERS}"
    event: dict[str, Any] = {"id": f"bench-{run_id}-{n:010d}", "time": EVENT_TIME}
    kind = n % 10
    if kind < 5:
        event["type"] = "product.viewed"
        event["data"] = {"product": _product(n)}
        if kind == 0:
            event["anonymousid"] = f"visitor-{customer}"
            return event
    elif kind < 8:
        event["type"] = "product.added"
        event["data"] = {"cart_id": f"cart-{customer}", "item": _line_item(n)}
    else:
        items = [_line_item(n), _line_item(n + 1)]
        event["type"] = "order.placed"
        event["data"] = {
            "order_id": f"o-{run_id}-{n}",
            "order_number": f"#{n}",
            "items": items,
            "total": {"amount": "59.80", "currency": "EUR"},
        }
    event["customerid"] = customer
    return event


def native_batches(
    url: str, api_key: str, counter: Counter, batches: int, per_batch: int
) -> Iterator[bytes]:
    """`batches` targets for POST /v1/events, each with `per_batch` never-seen events."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"}
    for _ in range(batches):
        events = [native_event(counter.next(), counter.run_id) for _ in range(per_batch)]
        yield target_line(url, headers, orjson.dumps({"events": events}))


# --- Shopify webhooks -----------------------------------------------------------------------


def shopify_order_template() -> dict[str, Any]:
    """Shopify's documented orders/create sample (tests/fixtures), a realistic ~7 KB body."""
    template: dict[str, Any] = orjson.loads(SHOPIFY_ORDER_FIXTURE.read_bytes())
    return template


def shopify_order(template: dict[str, Any], n: int, base_id: int) -> dict[str, Any]:
    """The sample as a new order: its own order id (hence event id) and its own customer."""
    order_id = base_id + n
    customer_id = base_id + n % CUSTOMERS
    customer = {
        **template["customer"],
        "id": customer_id,
        "admin_graphql_api_id": f"gid://shopify/Customer/{customer_id}",
    }
    return {
        **template,
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{1000 + n}",
        "order_number": 1000 + n,
        "customer": customer,
    }


def shopify_webhooks(
    url: str, shop_domain: str, secret: str, counter: Counter, count: int, base_id: int
) -> Iterator[bytes]:
    """`count` signed orders/create deliveries, each with its own X-Shopify-Webhook-Id."""
    template = shopify_order_template()
    for _ in range(count):
        n = counter.next()
        body = orjson.dumps(shopify_order(template, n, base_id))
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Hmac-Sha256": sign_shopify(secret, body),
            "X-Shopify-Shop-Domain": shop_domain,
            "X-Shopify-Webhook-Id": f"bench-{counter.run_id}-wh-{n:010d}",
            "X-Shopify-Triggered-At": "2026-11-23T10:00:00.000Z",
            "X-Shopify-API-Version": "2025-10",
        }
        yield target_line(url, headers, body)


# --- feedback: Twilio's inbound SMS and RFC 8058's one-click --------------------------------

FEEDBACK_SHOP = "bench-feedback"
ONE_CLICK_BODY = b"List-Unsubscribe=One-Click"
REPLY_TEXT = "Is the Ethiopia roast back in stock? I'd take two bags"
SMS_MIX = (
    "STOP",
    REPLY_TEXT,
    "STOP",
    "START",
    "STOP",
    REPLY_TEXT,
    "STOP",
    "STOP",
    REPLY_TEXT,
    "STOP",
)
"""What the replies to a marketing text look like, ten at a time: mostly opt-outs, a few
answers, fewer coming back. Every one acts on its contact: one record, one TwiML answer."""


def feedback_customer(contact: int) -> str:
    return f"c{contact:07d}"


def feedback_phone(contact: int) -> str:
    """A valid, dialable US number per contact (the directory keeps only such numbers)."""
    return f"+1628{2_000_000 + contact}"


def message_sid(run_id: str, n: int) -> str:
    """A Twilio message sid (`SM` and 32 hex digits), unique per run and request."""
    return f"SM{run_id[:8]}{n:024x}"


def inbound_sms(
    url: str, auth_token: str, counter: Counter, count: int, contacts: int
) -> Iterator[bytes]:
    """`count` inbound texts to `url`, as Twilio posts them (every parameter it sends, signed
    over `url` with `auth_token`), each from the next contact's phone with a sid of its own
    (a retried sid would be the same event), texts in the order of SMS_MIX."""
    for _ in range(count):
        n = counter.next()
        sender = feedback_phone(n % contacts)
        params = twilio.inbound(
            sender, SMS_MIX[n % len(SMS_MIX)], message_sid=message_sid(counter.run_id, n)
        )
        body, headers = twilio.signed(url, params, auth_token)
        yield target_line(url, headers, body.encode())


def one_clicks(
    base_url: str, keys: LinkKeys, counter: Counter, count: int, contacts: int
) -> Iterator[bytes]:
    """`count` one-click POSTs (RFC 8058, URL-encoded as Gmail and Yahoo send them), each to
    the email unsubscribe link of the next contact (a repeat would change nothing)."""
    headers = {"Content-Type": twilio.FORM}
    for _ in range(count):
        customer = feedback_customer(counter.next() % contacts)
        token = unsubscribe.sign(keys, Unsubscribe(FEEDBACK_SHOP, customer, "email"))
        yield target_line(f"{base_url}/u/{token}", headers, ONE_CLICK_BODY)
