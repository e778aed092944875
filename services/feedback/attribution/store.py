"""What attribution keeps: each customer's recent touches, and each order's conversion.

Touches are bounded: per customer at most `TouchLimits.per_customer` (the newest), none older
than the customer's newest by more than `TouchLimits.keep` (the longest window of any shop,
plus the lateness an order may have), and `prune` forgets customers gone quiet. Conversions are
unique per shop and order id: the first one held is the order's for good, and it remembers
whether it is on `conversions.v1` yet. A port with two adapters that pass one contract suite
(tests/support/touch_store_contract.py): in memory (unit tests) and PostgreSQL (the service).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Protocol

from services.feedback.attribution.touches import Touch
from shared.events.conversions import ConversionAttributedEvent

Customer = tuple[str, str]
"""(shop id, customer id)."""
OrderKey = tuple[str, str]
"""(shop id, order id)."""

LATE_ORDERS: Final = timedelta(days=2)
"""How late an order may reach Nudge and still find its touches: Shopify retries a webhook for
48 hours."""


@dataclass(frozen=True, slots=True)
class TouchLimits:
    keep: timedelta
    """How far behind a customer's newest touch an older one is still kept."""
    per_customer: int = 200

    @classmethod
    def for_windows(cls, longest: timedelta) -> TouchLimits:
        return cls(keep=longest + LATE_ORDERS)


@dataclass(frozen=True, slots=True)
class Conversion:
    """An order's conversion as held, and whether `conversions.v1` has it yet."""

    event: ConversionAttributedEvent
    published: bool

    @property
    def key(self) -> OrderKey:
        return conversion_key(self.event)


def conversion_key(event: ConversionAttributedEvent) -> OrderKey:
    """The order a conversion is of: at most one conversion each."""
    return event.shopid, event.data.order_id


class TouchStore(Protocol):
    async def record(self, touches: Sequence[Touch]) -> None:
        """Keep these touches (one recorded again changes nothing), then bound each of their
        customers' touches by the limits."""
        ...

    async def touches(self, customers: Collection[Customer], since: datetime) -> list[Touch]:
        """These customers' touches at or after `since`, oldest first."""
        ...

    async def prune(self, before: datetime) -> int:
        """Forget every touch older than `before` (customers gone quiet); how many went."""
        ...

    async def add(self, conversions: Sequence[ConversionAttributedEvent]) -> None:
        """Keep each order's conversion unless the order has one already (which stays)."""
        ...

    async def conversions(self, keys: Collection[OrderKey]) -> dict[OrderKey, Conversion]:
        """The conversions held for these orders (orders without one are left out)."""
        ...

    async def mark_published(self, keys: Collection[OrderKey]) -> None:
        """These orders' conversions are on `conversions.v1`."""
        ...


class MemoryTouchStore:
    """The store in memory: for unit tests and for the app built without a database."""

    def __init__(self, limits: TouchLimits) -> None:
        self.limits = limits
        self._touches: dict[Customer, dict[str, Touch]] = {}
        self._conversions: dict[OrderKey, Conversion] = {}

    async def record(self, touches: Sequence[Touch]) -> None:
        for touch in touches:
            held = self._touches.setdefault((touch.shop_id, touch.customer_id), {})
            held.setdefault(touch.touch_id, touch)
        for customer in {(t.shop_id, t.customer_id) for t in touches}:
            newest_first = sorted(
                self._touches[customer].values(), key=lambda t: (t.at, t.touch_id), reverse=True
            )
            oldest_kept = newest_first[0].at - self.limits.keep
            self._touches[customer] = {
                t.touch_id: t
                for t in newest_first[: self.limits.per_customer]
                if t.at >= oldest_kept
            }

    async def touches(self, customers: Collection[Customer], since: datetime) -> list[Touch]:
        found = [
            touch
            for customer in set(customers)
            for touch in self._touches.get(customer, {}).values()
            if touch.at >= since
        ]
        return sorted(found, key=lambda t: (t.at, t.touch_id))

    async def prune(self, before: datetime) -> int:
        gone = 0
        for customer, held in list(self._touches.items()):
            kept = {key: t for key, t in held.items() if t.at >= before}
            gone += len(held) - len(kept)
            if kept:
                self._touches[customer] = kept
            else:
                del self._touches[customer]
        return gone

    async def add(self, conversions: Sequence[ConversionAttributedEvent]) -> None:
        for event in conversions:
            self._conversions.setdefault(conversion_key(event), Conversion(event, False))

    async def conversions(self, keys: Collection[OrderKey]) -> dict[OrderKey, Conversion]:
        return {key: self._conversions[key] for key in keys if key in self._conversions}

    async def mark_published(self, keys: Collection[OrderKey]) -> None:
        for key in keys:
            held = self._conversions.get(key)
            if held is not None:
                self._conversions[key] = Conversion(held.event, True)
