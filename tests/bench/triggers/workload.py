"""Realistic shop events for the triggers benchmark, as ingest would have produced them.

Each customer starts with `customer.created` (consent on both channels, so marketing steps
can fire), then a weighted mix of browsing, carts, checkouts, orders and shipments, so the
states the worker keeps have the size they have in production (views, carts, orders, open
journeys). Records are built as JSON directly (pydantic per event would make producing the
benchmark input slower than processing it); `check_sample` proves they parse.

A seeded workload (`seeded=True`) is for customers whose states are already in the worker's
table (population.py): no `customer.created` phase, and its customers are drawn by number and
made on first use, so that a million of them cost nothing until they have an event. `timeline`
gives the histories those states are made from: most customers with a few events, some with
long ones, spread over the past weeks.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from shared.events import parse_shop_event

CATEGORIES = ("coffee", "tea", "pet-food", "skincare", "books", "kitchen")
WEIGHTS: dict[str, int] = {
    "customer.updated": 4,
    "product.viewed": 40,
    "product.added": 8,
    "cart.updated": 16,
    "checkout.started": 6,
    "order.placed": 8,
    "shipment.created": 6,
    "shipment.status_changed": 6,
    "shipment.delivered": 6,
}
"""After the customer's `customer.created`: what each further event is, relatively."""
HISTORY = ((0.6, 0, 3), (0.3, 4, 20), (0.1, 30, 150))
"""A history's length: (share of the customers, fewest, most further events after
`customer.created`): most customers did little, a tenth have a long history."""
STATUSES = ("in_transit", "out_for_delivery", "delayed", "confirmed")


def customer_id(n: int) -> str:
    """Customer number `n`'s id (seeded states are keyed with it too)."""
    return f"cust-{n}"


@dataclass(slots=True)
class Customer:
    customer_id: str
    cart: list[dict[str, Any]]
    orders: int = 0
    cart_n: int = 0


def _money(amount: float) -> dict[str, str]:
    return {"amount": f"{amount:.2f}", "currency": "EUR"}


def _product(rng: random.Random) -> dict[str, Any]:
    n = rng.randrange(5000)
    price = 5 + n % 60
    return {
        "product_id": f"prod-{n}",
        "title": f"Product number {n}",
        "category": CATEGORIES[n % len(CATEGORIES)],
        "price": _money(price),
        "url": f"https://bench.example/products/{n}",
        "image_url": f"https://cdn.bench.example/img/{n}.jpg",
    }


def _line(rng: random.Random) -> dict[str, Any]:
    return _product(rng) | {"quantity": rng.randint(1, 3)}


def _total(items: list[dict[str, Any]]) -> dict[str, str]:
    return _money(sum(float(i["price"]["amount"]) * i["quantity"] for i in items))


class Workload:
    """`events` key/value pairs for `customers` distinct customers of one shop.

    `seeded`: the customers exist already (their states were seeded), so none is created and
    `customers` stays empty: they are made on first draw (see `customer`).
    """

    def __init__(
        self, shop_id: str, customers: int, seed: int = 7, *, seeded: bool = False
    ) -> None:
        self.shop_id = shop_id
        self.rng = random.Random(seed)
        self.count = customers
        self.seeded = seeded
        self.customers = [] if seeded else [Customer(customer_id(n), []) for n in range(customers)]
        self._met: dict[int, Customer] = {}
        self._types = list(WEIGHTS)
        self._weights = list(WEIGHTS.values())
        self._serial = 0

    def customer(self, n: int) -> Customer:
        """Customer number `n` (of a seeded workload: made when first met)."""
        if not self.seeded:
            return self.customers[n]
        found = self._met.get(n)
        if found is None:
            found = self._met[n] = Customer(customer_id(n), [])
        return found

    def records(self, events: int) -> Iterator[tuple[bytes, bytes]]:
        """Unless seeded, the first len(customers) events create the customers; the rest (all,
        when seeded) are the mix, each for a customer drawn at random."""
        created = 0 if self.seeded else self.count
        for n in range(events):
            if n < created:
                yield self._record(self.customers[n], "customer.created")
            else:
                customer = self.customer(self.rng.randrange(self.count))
                kind = self.rng.choices(self._types, self._weights)[0]
                yield self._record(customer, kind)

    def timeline(self, days: float, end: float) -> list[tuple[float, int, str]]:
        """Every customer's history as (epoch seconds, customer number, kind), in time order:
        `customer.created` at a random moment of the `days` before `end`, then a HISTORY-long
        mix at random moments between then and `end`."""
        rng, start = self.rng, end - days * 86_400
        shares = [share for share, _fewest, _most in HISTORY]
        events: list[tuple[float, int, str]] = []
        for n in range(self.count):
            created = rng.uniform(start, end - 3_600)
            events.append((created, n, "customer.created"))
            _share, fewest, most = rng.choices(HISTORY, shares)[0]
            for _ in range(rng.randint(fewest, most)):
                kind = rng.choices(self._types, self._weights)[0]
                events.append((rng.uniform(created + 1, end), n, kind))
        events.sort()
        return events

    def _record(self, customer: Customer, kind: str) -> tuple[bytes, bytes]:
        return self.record_for(customer, kind, datetime.fromtimestamp(time.time(), UTC))

    def record_for(self, customer: Customer, kind: str, when: datetime) -> tuple[bytes, bytes]:
        """One record of `kind` for `customer`, happening at `when`."""
        self._serial += 1
        now = when.isoformat()
        envelope = {
            "specversion": "1.0",
            "id": f"bench-{self.shop_id}-{self._serial}",
            "source": f"/shops/{self.shop_id}/api",
            "type": kind,
            "time": now,
            "datacontenttype": "application/json",
            "shopid": self.shop_id,
            "customerid": customer.customer_id,
            "schemaversion": 1,
            "data": self._data(customer, kind, now),
        }
        key = f"{self.shop_id}:{customer.customer_id}".encode()
        return key, orjson.dumps(envelope)

    def _data(self, customer: Customer, kind: str, now: str) -> dict[str, Any]:
        rng = self.rng
        cart_id = f"cart-{customer.customer_id}-{customer.cart_n}"
        order_id = f"order-{customer.customer_id}-{customer.orders}"
        if kind in ("customer.created", "customer.updated"):
            granted = {"status": "granted", "source": "signup_form", "recorded_at": now}
            return {
                "email": f"{customer.customer_id}@bench.example",
                "first_name": "Ada",
                "last_name": "Lovelace",
                "time_zone": "Europe/Amsterdam",
                "consent": {"email": granted, "sms": granted},
            }
        if kind == "product.viewed":
            return {"product": _product(rng)}
        if kind == "product.added":
            line = _line(rng)
            customer.cart = [*customer.cart[-7:], line]
            return {"cart_id": cart_id, "item": line}
        if kind in ("cart.updated", "checkout.started"):
            if not customer.cart or rng.random() < 0.3:
                customer.cart = [_line(rng) for _ in range(rng.randint(1, 5))]
            data: dict[str, Any] = {
                "cart_id": cart_id,
                "items": customer.cart,
                "value": _total(customer.cart),
                "recovery_url": f"https://bench.example/cart/{cart_id}",
            }
            if kind == "checkout.started":
                data["checkout_id"] = f"co-{cart_id}"
            return data
        if kind == "order.placed":
            customer.orders += 1
            customer.cart_n += 1
            items = customer.cart or [_line(rng) for _ in range(rng.randint(1, 3))]
            customer.cart = []
            return {
                "order_id": f"order-{customer.customer_id}-{customer.orders}",
                "order_number": f"#{1000 + self._serial}",
                "items": items,
                "total": _total(items),
                "status_url": f"https://bench.example/orders/{self._serial}",
            }
        shipment = {"order_id": order_id, "shipment_id": f"ship-{order_id}"}
        if kind == "shipment.created":
            return shipment | {"carrier": "PostNL", "tracking_number": f"3S{self._serial}"}
        if kind == "shipment.status_changed":
            return shipment | {"status": rng.choice(STATUSES)}
        return shipment


def check_sample(records: list[tuple[bytes, bytes]]) -> None:
    """Every record of the sample parses as a shop event (else the bench measures the DLQ)."""
    for _key, value in records:
        parse_shop_event(value)
