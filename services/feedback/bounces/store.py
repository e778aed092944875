"""What feedback keeps about suppressed addresses: the suppressions it published, the
transient bounces it counts, and the audit of every clearing (who, when, why).

A suppression is held per shop, address (lower-cased), customer and scope, and is active while
it is newer than the last clearing of that address in that shop: a bounce notification that
SNS delivers again after an operator cleared the address changes nothing. A port with two
adapters that pass one contract suite: in memory (unit tests) and PostgreSQL (the service).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Protocol

from shared.events.feedback import SuppressionReason, SuppressionScope


@dataclass(frozen=True, slots=True)
class Suppression:
    shop_id: str
    address: str
    """Lower-cased."""
    customer_id: str
    scope: SuppressionScope
    reason: SuppressionReason
    at: datetime
    """When what caused it happened (the bounce's or complaint's time)."""
    event_id: str
    """The event that published it."""


@dataclass(frozen=True, slots=True)
class Clearing:
    """One audited clearing: an operator lifted every suppression of `address` in a shop."""

    shop_id: str
    address: str
    customer_id: str
    at: datetime
    actor: str
    reason: str
    event_id: str
    cleared: str
    """What was active before (`scope:reason`, comma-separated), or `nothing held`."""


class SuppressionStore(Protocol):
    async def count_soft_bounce(
        self, shop_id: str, address: str, notification_id: str, at: datetime, window: timedelta
    ) -> int:
        """Record one transient bounce (a notification counts once however often it arrives)
        and return how many of this shop's for this address lie within `window` up to `at`,
        after the address's last clearing."""
        ...

    async def suppress(self, suppressions: Sequence[Suppression]) -> None:
        """Hold these (a newer one replaces an older one of the same key; never the reverse)."""
        ...

    async def active(
        self, shop_id: str, *, address: str | None = None, customer_id: str | None = None
    ) -> list[Suppression]:
        """The shop's suppressions in force, for an address, a customer, or both."""
        ...

    async def clear(self, clearings: Sequence[Clearing]) -> None:
        """Lift every suppression of each clearing's shop and address as of its time, and keep
        the clearing in the audit."""
        ...

    async def audit(self, shop_id: str, address: str | None = None) -> list[Clearing]:
        """The shop's clearings, oldest first."""
        ...


_Key = tuple[str, str, str, SuppressionScope]


class MemorySuppressionStore:
    """The store in memory: for unit tests and for the app built without a database."""

    def __init__(self) -> None:
        self._held: dict[_Key, Suppression] = {}
        self._soft: dict[tuple[str, str], dict[str, datetime]] = {}
        self._audit: list[Clearing] = []

    def _last_clearing(self, shop_id: str, address: str) -> datetime | None:
        times = [c.at for c in self._audit if (c.shop_id, c.address) == (shop_id, address)]
        return max(times, default=None)

    async def count_soft_bounce(
        self, shop_id: str, address: str, notification_id: str, at: datetime, window: timedelta
    ) -> int:
        seen = self._soft.setdefault((shop_id, address), {})
        seen.setdefault(notification_id, at)
        since = at - window
        cleared = self._last_clearing(shop_id, address)
        if cleared is not None and cleared > since:
            since = cleared
        return sum(1 for moment in seen.values() if since < moment <= at)

    async def suppress(self, suppressions: Sequence[Suppression]) -> None:
        for item in suppressions:
            key = (item.shop_id, item.address, item.customer_id, item.scope)
            held = self._held.get(key)
            if held is None or item.at >= held.at:
                self._held[key] = item

    async def active(
        self, shop_id: str, *, address: str | None = None, customer_id: str | None = None
    ) -> list[Suppression]:
        found = []
        for item in self._held.values():
            if item.shop_id != shop_id:
                continue
            if address is not None and item.address != address:
                continue
            if customer_id is not None and item.customer_id != customer_id:
                continue
            cleared = self._last_clearing(shop_id, item.address)
            if cleared is None or item.at > cleared:
                found.append(item)
        return sorted(found, key=_order)

    async def clear(self, clearings: Sequence[Clearing]) -> None:
        self._audit.extend(replace(c) for c in clearings)

    async def audit(self, shop_id: str, address: str | None = None) -> list[Clearing]:
        found = [
            c
            for c in self._audit
            if c.shop_id == shop_id and (address is None or c.address == address)
        ]
        return sorted(found, key=lambda c: c.at)


def _order(item: Suppression) -> tuple[str, str, str]:
    return item.address, item.customer_id, item.scope.value
