"""The suppression store's behaviour, written once: the in-memory adapter runs it in the unit
tests, PostgreSQL's in the integration tests (one-line factories, as the directory's)."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from datetime import UTC, datetime, timedelta

from services.feedback.bounces.store import Clearing, Suppression, SuppressionStore
from shared.events.feedback import SuppressionReason, SuppressionScope

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
WEEK = timedelta(days=7)


def unique(prefix: str) -> str:
    """Ids unique per test: the PostgreSQL adapter shares its tables between tests."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def held(
    shop: str,
    address: str,
    customer: str = "c1",
    scope: SuppressionScope = SuppressionScope.ALL,
    reason: SuppressionReason = SuppressionReason.HARD_BOUNCE,
    at: datetime = T0,
) -> Suppression:
    return Suppression(shop, address, customer, scope, reason, at, unique("e"))


def clearing(shop: str, address: str, at: datetime, customer: str = "c1") -> Clearing:
    return Clearing(shop, address, customer, at, "ops@example.com", "customer asked", "e", "-")


class SuppressionStoreContract(ABC):
    @abstractmethod
    def store(self) -> SuppressionStore: ...

    async def test_a_transient_bounce_counts_once_within_the_window(self) -> None:
        store, shop, address = self.store(), unique("s"), f"{unique('a')}@example.com"
        first = await store.count_soft_bounce(shop, address, "n1", T0, WEEK)
        again = await store.count_soft_bounce(shop, address, "n1", T0, WEEK)
        second = await store.count_soft_bounce(shop, address, "n2", T0 + timedelta(days=1), WEEK)
        assert (first, again, second) == (1, 1, 2)
        much_later = await store.count_soft_bounce(
            shop, address, "n3", T0 + timedelta(days=7.5), WEEK
        )
        assert much_later == 2  # n1 fell out of the window, n2 did not
        other_shop = await store.count_soft_bounce(unique("s"), address, "n1", T0, WEEK)
        assert other_shop == 1

    async def test_a_clearing_restarts_the_count(self) -> None:
        store, shop, address = self.store(), unique("s"), f"{unique('a')}@example.com"
        await store.count_soft_bounce(shop, address, "n1", T0, WEEK)
        await store.count_soft_bounce(shop, address, "n2", T0 + timedelta(hours=1), WEEK)
        await store.clear([clearing(shop, address, T0 + timedelta(hours=2))])
        count = await store.count_soft_bounce(shop, address, "n3", T0 + timedelta(hours=3), WEEK)
        assert count == 1

    async def test_suppressions_are_held_per_shop_until_cleared(self) -> None:
        store, shop, address = self.store(), unique("s"), f"{unique('a')}@example.com"
        complaint = held(
            shop, address, scope=SuppressionScope.MARKETING, reason=SuppressionReason.COMPLAINT
        )
        await store.suppress([held(shop, address), complaint, held(unique("s"), address)])
        found = await store.active(shop, address=address)
        assert {(s.scope, s.reason) for s in found} == {
            (SuppressionScope.ALL, SuppressionReason.HARD_BOUNCE),
            (SuppressionScope.MARKETING, SuppressionReason.COMPLAINT),
        }
        assert await store.active(shop, customer_id="c1") == found
        assert await store.active(shop, customer_id="c2") == []
        await store.clear([clearing(shop, address, T0 + timedelta(minutes=1))])
        assert await store.active(shop, address=address) == []

    async def test_a_bounce_from_before_a_clearing_does_not_bring_it_back(self) -> None:
        store, shop, address = self.store(), unique("s"), f"{unique('a')}@example.com"
        await store.suppress([held(shop, address, at=T0)])
        await store.clear([clearing(shop, address, T0 + timedelta(hours=1))])
        await store.suppress([held(shop, address, at=T0)])  # SNS delivers it again
        assert await store.active(shop, address=address) == []
        newer = held(shop, address, at=T0 + timedelta(hours=2))
        await store.suppress([newer])
        assert [s.event_id for s in await store.active(shop, address=address)] == [newer.event_id]
        await store.suppress([held(shop, address, at=T0 + timedelta(hours=1, minutes=30))])
        assert [s.at for s in await store.active(shop, address=address)] == [newer.at]

    async def test_the_audit_keeps_every_clearing_in_order(self) -> None:
        store, shop, address = self.store(), unique("s"), f"{unique('a')}@example.com"
        later = clearing(shop, address, T0 + timedelta(hours=2), "c2")
        await store.clear([later])
        await store.clear([clearing(shop, address, T0 + timedelta(hours=1))])
        audit = await store.audit(shop)
        assert [(c.customer_id, c.actor, c.reason) for c in audit] == [
            ("c1", "ops@example.com", "customer asked"),
            ("c2", "ops@example.com", "customer asked"),
        ]
        assert await store.audit(shop, "other@example.com") == []
