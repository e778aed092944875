"""What a simulated customer does, and what the shop does for them, as a timeline of actions.

`timeline(customer, start, days)` is a pure function (no I/O, no clock): the same customer,
start and length give the same actions, and a longer run begins with the very actions of a
shorter one. It plays the customer's life as discrete events in time order: browsing
sessions in their waking hours (8:00 to 23:00 in their time zone), carts, checkouts left or
paid, abandoned checkouts paid later, purchases again on their own rhythm, going quiet; and
the shop's side of each order (shipped, out for delivery, delivered, or cancelled).

Actions that answer a message (a click, a survey answer, a STOP reply, a bounce) are not
here: they depend on what Nudge sent, and come from the slice that reads the sinks
(docs/SIMULATOR.md).
"""

from __future__ import annotations

import hashlib
import heapq
import math
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo

from services.simulator.population import Customer
from services.simulator.products import BY_CATEGORY, CATALOG, CURRENCY, Product

WAKING_HOURS: Final = (8.0, 23.0)
FREE_SHIPPING_FROM: Final = Decimal("40.00")
SHIPPING: Final = Decimal("4.90")
CARRIER: Final = "SimPost"
PROFILE_LEAD: Final = timedelta(seconds=1)
"""A customer from before the start is announced this long before their first session."""


class Kind(StrEnum):
    """What happened; docs/SIMULATOR.md lists the events each becomes in each format."""

    SIGNED_UP = "signed_up"
    """A new customer: customer.created (consent included)."""
    PROFILE = "profile"
    """A customer from before the start, first seen in the run: customer.updated."""
    VIEWED = "viewed"
    ADDED_TO_CART = "added_to_cart"
    CHECKOUT_STARTED = "checkout_started"
    ORDER_PLACED = "order_placed"
    ORDER_CANCELLED = "order_cancelled"
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"


SHOP_SIDE: Final = frozenset(
    {Kind.ORDER_CANCELLED, Kind.SHIPPED, Kind.OUT_FOR_DELIVERY, Kind.DELIVERED}
)
"""Kinds the shop does: they go on after the customer went quiet."""


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


@dataclass(frozen=True, slots=True)
class Line:
    product: Product
    quantity: int

    @property
    def total(self) -> Decimal:
        return self.product.price * self.quantity

    def as_json(self) -> dict[str, Any]:
        return {"product_id": self.product.product_id, "quantity": self.quantity}


@dataclass(frozen=True, slots=True)
class Cart:
    cart_id: str
    """A token (hex), as Shopify's cart tokens are."""
    lines: tuple[Line, ...]

    @property
    def value(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal("0.00"))

    def as_json(self) -> dict[str, Any]:
        return {
            "cart_id": self.cart_id,
            "lines": [line.as_json() for line in self.lines],
            "value": _money(self.value),
        }


@dataclass(frozen=True, slots=True)
class Viewed:
    product: Product

    def as_json(self) -> dict[str, Any]:
        return {"product_id": self.product.product_id, "category": self.product.category}


@dataclass(frozen=True, slots=True)
class CartChange:
    cart: Cart
    """The cart after the change."""
    added: Line

    def as_json(self) -> dict[str, Any]:
        return {"cart": self.cart.as_json(), "added": self.added.as_json()}


@dataclass(frozen=True, slots=True)
class Checkout:
    checkout_id: str
    token: str
    cart: Cart

    def as_json(self) -> dict[str, Any]:
        return {"checkout_id": self.checkout_id, "token": self.token, "cart": self.cart.as_json()}


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    number: str
    checkout: Checkout
    first: bool
    """The customer's first order in the run."""

    @property
    def lines(self) -> tuple[Line, ...]:
        return self.checkout.cart.lines

    @property
    def subtotal(self) -> Decimal:
        return self.checkout.cart.value

    @property
    def shipping(self) -> Decimal:
        return Decimal("0.00") if self.subtotal >= FREE_SHIPPING_FROM else SHIPPING

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.shipping

    def as_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "number": self.number,
            "checkout_id": self.checkout.checkout_id,
            "lines": [line.as_json() for line in self.lines],
            "total": _money(self.total),
            "currency": CURRENCY,
            "first": self.first,
        }


@dataclass(frozen=True, slots=True)
class Cancellation:
    order: Order
    reason: str

    def as_json(self) -> dict[str, Any]:
        return {"order_id": self.order.order_id, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Shipment:
    order: Order
    shipment_id: str
    tracking_number: str

    def as_json(self) -> dict[str, Any]:
        return {
            "order_id": self.order.order_id,
            "shipment_id": self.shipment_id,
            "tracking_number": self.tracking_number,
        }


@dataclass(frozen=True, slots=True)
class ShipmentUpdate:
    shipment: Shipment
    update_id: str
    status: str
    """A Shopify fulfillment event status: `out_for_delivery` or `delivered`."""

    def as_json(self) -> dict[str, Any]:
        return {**self.shipment.as_json(), "update_id": self.update_id, "status": self.status}


Detail = Viewed | CartChange | Checkout | Order | Cancellation | Shipment | ShipmentUpdate


@dataclass(frozen=True, slots=True)
class Action:
    """One thing that happened at `at`, to `customer`; `seq` is its place in the customer's
    timeline, which (with the seed, shop and index) names it in every id derived from it."""

    at: datetime
    customer: Customer
    seq: int
    kind: Kind
    detail: Detail | None = None

    def ref(self, purpose: str = "") -> str:
        """A stable name for this action (and `purpose`, when one action needs several)."""
        return _digest(self.customer, f"action:{self.seq}:{purpose}")

    def as_json(self) -> dict[str, Any]:
        """For `nudge simulate --dry-run` and for the oracle's reports."""
        body: dict[str, Any] = {
            "at": self.at.isoformat().replace("+00:00", "Z"),
            "shop": self.customer.shop,
            "customer": self.customer.index,
            "customer_id": self.customer.customer_id,
            "seq": self.seq,
            "kind": self.kind.value,
        }
        if self.detail is not None:
            body.update(self.detail.as_json())
        return body


def _digest(customer: Customer, what: str) -> str:
    text = f"{customer.seed}:{customer.shop}:{customer.index}:{what}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _numbered(prefix: int, customer: Customer, n: int) -> str:
    """Numeric ids (order, checkout, shipment...) in one family per `prefix` digit."""
    return f"{prefix}{customer.seed:05d}{customer.index:07d}{n:03d}"


def _poisson(rng: random.Random, mean: float) -> int:
    limit = math.exp(-mean)
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def session_starts(customer: Customer, start: datetime, end: datetime) -> list[datetime]:
    """Browsing sessions in [start, end): per local day a Poisson number of them, each at a
    uniform moment of the customer's waking hours. Drawn day by day from their own stream,
    so that a longer run keeps a shorter one's sessions."""
    rng = random.Random(f"{customer.seed}:{customer.shop}:{customer.index}:sessions")
    zone = ZoneInfo(customer.time_zone)
    day: date = start.astimezone(zone).date()
    per_day = customer.sessions_per_week / 7.0
    low, high = WAKING_HOURS
    found: list[datetime] = []
    while datetime.combine(day, time(0), zone).astimezone(UTC) < end:
        count = _poisson(rng, per_day)
        for _ in range(count):
            hours = rng.uniform(low, high)
            local = datetime.combine(day, time(0), zone) + timedelta(hours=hours)
            moment = local.astimezone(UTC)
            if start <= moment < end:
                found.append(moment)
        day += timedelta(days=1)
    found.sort()
    return found


@dataclass(order=True)
class _Due:
    at: datetime
    order: int
    what: str = field(compare=False)
    checkout: Checkout | None = field(default=None, compare=False)


class _Life:
    """The discrete-event run of one customer: an agenda of what is due, handled in time
    order, each handling drawing from the customer's own behaviour stream."""

    def __init__(self, customer: Customer, start: datetime, end: datetime) -> None:
        self.c = customer
        self.start = start
        self.end = end
        self.rng = random.Random(f"{customer.seed}:{customer.shop}:{customer.index}:acts")
        self.quiet_at = start + customer.quiet_after if customer.quiet_after else None
        self.joins_at = start + customer.joins_after if customer.joins_after else None
        self.out: list[tuple[datetime, int, Kind, Detail | None]] = []
        self.agenda: list[_Due] = []
        self.counter = 0
        self.known = False
        self.cart: Cart | None = None
        self.carts = 0
        self.checkouts = 0
        self.orders = 0
        self.last_bought: Product | None = None

    def run(self, sessions: list[datetime] | None = None) -> list[Action]:
        """The timeline; `sessions`: the customer's `session_starts`, when known already."""
        if self.joins_at is not None:
            self._plan(self.joins_at, "signup")
        if sessions is None:
            sessions = session_starts(self.c, self.start, self.end)
        for moment in sessions:
            if self.joins_at is None or moment > self.joins_at:
                self._plan(moment, "session")
        while self.agenda:
            due = heapq.heappop(self.agenda)
            if due.at >= self.end:
                break
            if self.quiet_at is not None and due.at >= self.quiet_at:
                continue
            if due.what == "signup":
                self._emit(due.at, Kind.SIGNED_UP)
                self.known = True
            elif due.what == "session":
                self._session(due.at)
            elif due.what == "comeback":
                self._comeback(due.at, due.checkout)
            elif due.what == "repeat":
                self._repeat(due.at)
        kept = sorted(entry for entry in self.out if entry[0] < self.end)
        return [
            Action(at, self.c, seq, kind, detail) for seq, (at, _, kind, detail) in enumerate(kept)
        ]

    def _plan(self, at: datetime, what: str, checkout: Checkout | None = None) -> None:
        self.counter += 1
        heapq.heappush(self.agenda, _Due(at, self.counter, what, checkout))

    def _emit(self, at: datetime, kind: Kind, detail: Detail | None = None) -> None:
        self.counter += 1
        self.out.append((at, self.counter, kind, detail))

    def _introduce(self, at: datetime) -> None:
        """A customer from before the start shows up: the shop sends what it knows of them."""
        if not self.known:
            self._emit(at - PROFILE_LEAD, Kind.PROFILE)
            self.known = True

    def _pick(self) -> Product:
        if self.rng.random() < 0.6:
            return self.rng.choice(BY_CATEGORY[self.c.favourite_category])
        return self.rng.choice(CATALOG)

    def _later(self, at: datetime, low_s: float, high_s: float) -> datetime:
        return at + timedelta(seconds=self.rng.uniform(low_s, high_s))

    def _add(self, at: datetime, product: Product) -> None:
        if self.cart is None:
            self.carts += 1
            self.cart = Cart(_digest(self.c, f"cart:{self.carts}"), ())
        line = Line(product, self.rng.randint(1, 2))
        merged: list[Line] = []
        for existing in self.cart.lines:
            if existing.product == product:
                line = Line(product, existing.quantity + line.quantity)
            else:
                merged.append(existing)
        self.cart = Cart(self.cart.cart_id, (*merged, line))
        self._emit(at, Kind.ADDED_TO_CART, CartChange(self.cart, line))

    def _checkout(self, at: datetime) -> Checkout:
        """A checkout of the cart as it stands (a new one each time: Shopify's checkouts are
        per attempt)."""
        assert self.cart is not None
        self.checkouts += 1
        checkout = Checkout(
            _numbered(6, self.c, self.checkouts),
            _digest(self.c, f"checkout:{self.checkouts}"),
            self.cart,
        )
        self._emit(at, Kind.CHECKOUT_STARTED, checkout)
        return checkout

    def _session(self, at: datetime) -> None:
        self._introduce(at)
        viewed: list[Product] = []
        moment = at
        for _ in range(self.rng.randint(1, self.c.views_per_session)):
            product = self._pick()
            viewed.append(product)
            self._emit(moment, Kind.VIEWED, Viewed(product))
            moment = self._later(moment, 20, 120)
        if self.rng.random() < self.c.cart_add_probability:
            picked = self.rng.sample(viewed, self.rng.randint(1, min(len(viewed), 2)))
            for product in dict.fromkeys(picked):
                self._add(moment, product)
                moment = self._later(moment, 30, 90)
        if self.cart is None or self.rng.random() >= self.c.checkout_probability:
            return
        checkout = self._checkout(moment)
        if self.rng.random() < self.c.abandon_probability:
            if self.rng.random() < self.c.comeback_probability:
                self._plan(self._later(moment, 2 * 3600, 72 * 3600), "comeback", checkout)
            return
        self._order(self._later(moment, 60, 300), checkout)

    def _comeback(self, at: datetime, left: Checkout | None) -> None:
        """Back to pay the cart left at checkout, unless it was bought meanwhile."""
        if self.cart is None or left is None or self.cart.cart_id != left.cart.cart_id:
            return
        self._introduce(at)
        checkout = self._checkout(at)
        self._order(self._later(at, 60, 300), checkout)

    def _repeat(self, at: datetime) -> None:
        """Buying again on their own rhythm: straight to the product, and paid."""
        self._introduce(at)
        product = self.last_bought or self._pick()
        self._emit(at, Kind.VIEWED, Viewed(product))
        moment = self._later(at, 20, 90)
        self._add(moment, product)
        moment = self._later(moment, 30, 120)
        checkout = self._checkout(moment)
        self._order(self._later(moment, 60, 300), checkout)
        assert self.c.repeat_interval is not None
        self._plan(at + self.c.repeat_interval * self.rng.uniform(0.8, 1.2), "repeat")

    def _order(self, at: datetime, checkout: Checkout) -> None:
        self.orders += 1
        first = self.orders == 1
        order = Order(
            _numbered(5, self.c, self.orders), f"#{self.c.index}-{self.orders}", checkout, first
        )
        self._emit(at, Kind.ORDER_PLACED, order)
        self.cart = None
        self.last_bought = order.lines[0].product
        if first and self.c.repeat_interval is not None:
            self._plan(at + self.c.repeat_interval * self.rng.uniform(0.8, 1.2), "repeat")
        if self.rng.random() < self.c.cancel_probability:
            reason = self.rng.choice(("customer", "inventory", "declined"))
            self._emit(
                self._later(at, 3600, 12 * 3600), Kind.ORDER_CANCELLED, Cancellation(order, reason)
            )
            return
        shipment = Shipment(
            order, _numbered(4, self.c, self.orders), f"SIM{_numbered(4, self.c, self.orders)}"
        )
        shipped = self._later(at, 6 * 3600, 36 * 3600)
        self._emit(shipped, Kind.SHIPPED, shipment)
        out = self._later(shipped, 12 * 3600, 72 * 3600)
        update = ShipmentUpdate(
            shipment, f"{_numbered(3, self.c, self.orders)}1", "out_for_delivery"
        )
        self._emit(out, Kind.OUT_FOR_DELIVERY, update)
        delivered = self._later(out, 3600, 8 * 3600)
        update = ShipmentUpdate(shipment, f"{_numbered(3, self.c, self.orders)}2", "delivered")
        self._emit(delivered, Kind.DELIVERED, update)


def timeline(customer: Customer, start: datetime, days: float) -> list[Action]:
    """Everything `customer` and their shop do in [start, start + days), in time order."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    if days <= 0:
        raise ValueError("days must be positive")
    start = start.astimezone(UTC)
    return _Life(customer, start, start + timedelta(days=days)).run()


def merge(timelines: Iterable[Iterable[Action]]) -> Iterator[Action]:
    """All actions in time order; ties keep the order of `timelines` (and each one's own)."""
    return heapq.merge(*timelines, key=lambda action: action.at)


def earliest(customer: Customer, start: datetime, sessions: list[datetime]) -> datetime | None:
    """No action of the customer's timeline comes before this (None: it has none): the
    sign-up, else a profile just before the first session; all else follows from those."""
    if customer.joins_after is not None:
        return start + customer.joins_after
    if sessions:
        return sessions[0] - PROFILE_LEAD
    return None


def play(customers: Iterable[Customer], start: datetime, days: float) -> Iterator[Action]:
    """`merge(timeline(c, start, days) for c in customers)`, the same actions in the same
    order, but each timeline is computed only once its first action may be next: a large
    population starts sending at once, and holds in memory only the customers under way."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    start = start.astimezone(UTC)
    end = start + timedelta(days=days)
    waiting: list[tuple[datetime, int, Customer, list[datetime]]] = []
    for index, person in enumerate(customers):
        sessions = session_starts(person, start, end)
        bound = earliest(person, start, sessions)
        if bound is not None and bound < end:
            waiting.append((bound, index, person, sessions))
    waiting.sort(key=lambda entry: (entry[0], entry[1]))
    heap: list[tuple[datetime, int, int, list[Action]]] = []
    woken = 0
    while heap or woken < len(waiting):
        while woken < len(waiting) and (not heap or waiting[woken][0] <= heap[0][0]):
            _, index, person, sessions = waiting[woken]
            woken += 1
            actions = _Life(person, start, end).run(sessions)
            if actions:
                heapq.heappush(heap, (actions[0].at, index, 0, actions))
        if not heap:
            continue
        _, index, position, actions = heapq.heappop(heap)
        yield actions[position]
        if position + 1 < len(actions):
            heapq.heappush(heap, (actions[position + 1].at, index, position + 1, actions))
