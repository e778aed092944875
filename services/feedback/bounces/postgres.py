"""The suppression store in PostgreSQL: `feedback_suppressions`, `feedback_soft_bounces` and
`feedback_suppression_audit` (migration 0008)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.feedback.bounces.store import Clearing, Suppression
from shared.events.feedback import SuppressionReason, SuppressionScope

_LAST_CLEARING = (
    "(SELECT max(a.at) FROM feedback_suppression_audit a"
    " WHERE a.shop_id = :shop_id AND a.address = :address)"
)
_RECORD_SOFT = text(
    """
INSERT INTO feedback_soft_bounces (shop_id, address, notification_id, bounced_at)
VALUES (:shop_id, :address, :notification_id, :at)
ON CONFLICT DO NOTHING
"""
)
_FORGET_OLD_SOFT = text(
    "DELETE FROM feedback_soft_bounces"
    " WHERE shop_id = :shop_id AND address = :address AND bounced_at <= :since"
)
_COUNT_SOFT = text(
    f"""
SELECT count(*) FROM feedback_soft_bounces
WHERE shop_id = :shop_id AND address = :address AND bounced_at > :since AND bounced_at <= :at
  AND bounced_at > COALESCE({_LAST_CLEARING}, '-infinity')
"""
)
_SUPPRESS = text(
    """
INSERT INTO feedback_suppressions
    (shop_id, address, customer_id, scope, reason, suppressed_at, event_id)
VALUES (:shop_id, :address, :customer_id, :scope, :reason, :at, :event_id)
ON CONFLICT (shop_id, address, customer_id, scope) DO UPDATE SET
    reason = EXCLUDED.reason,
    suppressed_at = EXCLUDED.suppressed_at,
    event_id = EXCLUDED.event_id,
    updated_at = now()
WHERE EXCLUDED.suppressed_at >= feedback_suppressions.suppressed_at
"""
)
_AUDIT = text(
    """
INSERT INTO feedback_suppression_audit
    (shop_id, address, customer_id, action, at, actor, reason, event_id, cleared)
VALUES (:shop_id, :address, :customer_id, 'unsuppress', :at, :actor, :reason, :event_id, :cleared)
"""
)
_COLUMNS = "s.shop_id, s.address, s.customer_id, s.scope, s.reason, s.suppressed_at, s.event_id"


class PostgresSuppressionStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def count_soft_bounce(
        self, shop_id: str, address: str, notification_id: str, at: datetime, window: timedelta
    ) -> int:
        keys = {"shop_id": shop_id, "address": address}
        async with self._engine.begin() as conn:
            await conn.execute(_RECORD_SOFT, {**keys, "notification_id": notification_id, "at": at})
            await conn.execute(_FORGET_OLD_SOFT, {**keys, "since": at - 2 * window})
            result = await conn.execute(_COUNT_SOFT, {**keys, "since": at - window, "at": at})
            count: int = result.scalar_one()
            return count

    async def suppress(self, suppressions: Sequence[Suppression]) -> None:
        if not suppressions:
            return
        async with self._engine.begin() as conn:
            await conn.execute(_SUPPRESS, [_params(s) for s in suppressions])

    async def active(
        self, shop_id: str, *, address: str | None = None, customer_id: str | None = None
    ) -> list[Suppression]:
        query = (
            f"SELECT {_COLUMNS} FROM feedback_suppressions s WHERE s.shop_id = :shop_id"
            " AND s.suppressed_at > COALESCE((SELECT max(a.at) FROM feedback_suppression_audit a"
            " WHERE a.shop_id = s.shop_id AND a.address = s.address), '-infinity')"
        )
        params: dict[str, Any] = {"shop_id": shop_id}
        if address is not None:
            query += " AND s.address = :address"
            params["address"] = address
        if customer_id is not None:
            query += " AND s.customer_id = :customer_id"
            params["customer_id"] = customer_id
        query += " ORDER BY s.address, s.customer_id, s.scope"
        async with self._engine.connect() as conn:
            return [_suppression(row) for row in await _rows(conn, query, params)]

    async def clear(self, clearings: Sequence[Clearing]) -> None:
        if not clearings:
            return
        async with self._engine.begin() as conn:
            await conn.execute(_AUDIT, [_audit_params(c) for c in clearings])

    async def audit(self, shop_id: str, address: str | None = None) -> list[Clearing]:
        query = (
            "SELECT shop_id, address, customer_id, at, actor, reason, event_id, cleared"
            " FROM feedback_suppression_audit WHERE shop_id = :shop_id"
        )
        params: dict[str, Any] = {"shop_id": shop_id}
        if address is not None:
            query += " AND address = :address"
            params["address"] = address
        query += " ORDER BY at, id"
        async with self._engine.connect() as conn:
            return [Clearing(**row) for row in await _rows(conn, query, params)]


async def _rows(conn: AsyncConnection, query: str, params: dict[str, Any]) -> list[RowMapping]:
    result = await conn.execute(text(query), params)
    return list(result.mappings())


def _params(item: Suppression) -> dict[str, Any]:
    return {
        "shop_id": item.shop_id,
        "address": item.address,
        "customer_id": item.customer_id,
        "scope": item.scope.value,
        "reason": item.reason.value,
        "at": item.at,
        "event_id": item.event_id,
    }


def _audit_params(item: Clearing) -> dict[str, Any]:
    return {
        "shop_id": item.shop_id,
        "address": item.address,
        "customer_id": item.customer_id,
        "at": item.at,
        "actor": item.actor,
        "reason": item.reason,
        "event_id": item.event_id,
        "cleared": item.cleared,
    }


def _suppression(row: RowMapping) -> Suppression:
    return Suppression(
        shop_id=row["shop_id"],
        address=row["address"],
        customer_id=row["customer_id"],
        scope=SuppressionScope(row["scope"]),
        reason=SuppressionReason(row["reason"]),
        at=row["suppressed_at"],
        event_id=row["event_id"],
    )
