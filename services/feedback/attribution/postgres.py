"""The touch store in PostgreSQL: `feedback_touches` and `feedback_conversions` (migration
0009)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from services.feedback.attribution.store import (
    Conversion,
    Customer,
    OrderKey,
    TouchLimits,
)
from services.feedback.attribution.touches import MessageInfo, Touch
from shared.events import dump_shop_event
from shared.events.conversions import ConversionAttributedEvent, TouchKind, parse_conversion_event
from shared.events.shop import Channel

_PAIRS = (
    "(SELECT a, b FROM unnest(CAST(:firsts AS text[]), CAST(:seconds AS text[])) AS pairs(a, b))"
)
_TOUCH_COLUMNS = (
    "shop_id, customer_id, touch_id, message_id, kind, touched_at, channel,"
    " campaign_id, trigger_id, transactional"
)
_RECORD = text(
    f"""
INSERT INTO feedback_touches ({_TOUCH_COLUMNS})
VALUES (:shop_id, :customer_id, :touch_id, :message_id, :kind, :touched_at, :channel,
        :campaign_id, :trigger_id, :transactional)
ON CONFLICT DO NOTHING
"""
)
_BOUND = text(
    f"""
DELETE FROM feedback_touches t
USING (
    SELECT shop_id, customer_id, touch_id FROM (
        SELECT shop_id, customer_id, touch_id, touched_at,
               row_number() OVER newest_first AS rank,
               first_value(touched_at) OVER newest_first AS newest
        FROM feedback_touches
        WHERE (shop_id, customer_id) IN {_PAIRS}
        WINDOW newest_first AS (
            PARTITION BY shop_id, customer_id ORDER BY touched_at DESC, touch_id COLLATE "C" DESC
        )
    ) ranked
    WHERE rank > :per_customer OR touched_at < newest - CAST(:keep AS interval)
) gone
WHERE t.shop_id = gone.shop_id AND t.customer_id = gone.customer_id
  AND t.touch_id = gone.touch_id
"""
)
_TOUCHES = text(
    f"""
SELECT {_TOUCH_COLUMNS} FROM feedback_touches
WHERE (shop_id, customer_id) IN {_PAIRS} AND touched_at >= :since
ORDER BY touched_at, touch_id COLLATE "C"
"""
)
_PRUNE = text("DELETE FROM feedback_touches WHERE touched_at < :before")
_ADD = text(
    """
INSERT INTO feedback_conversions
    (shop_id, order_id, customer_id, event_id, ordered_at, revenue, currency, message_id,
     campaign_id, trigger_id, channel, touch, touched_at, attribution_window, model, event)
VALUES (:shop_id, :order_id, :customer_id, :event_id, :ordered_at, :revenue, :currency,
        :message_id, :campaign_id, :trigger_id, :channel, :touch, :touched_at,
        :attribution_window, :model, :event)
ON CONFLICT (shop_id, order_id) DO NOTHING
"""
)
_CONVERSIONS = text(
    f"""
SELECT event, published_at IS NOT NULL AS published FROM feedback_conversions
WHERE (shop_id, order_id) IN {_PAIRS}
"""
)
_PUBLISHED = text(
    f"""
UPDATE feedback_conversions SET published_at = now()
WHERE (shop_id, order_id) IN {_PAIRS} AND published_at IS NULL
"""
)


class PostgresTouchStore:
    def __init__(self, engine: AsyncEngine, limits: TouchLimits) -> None:
        self._engine = engine
        self.limits = limits

    async def record(self, touches: Sequence[Touch]) -> None:
        if not touches:
            return
        customers = {(t.shop_id, t.customer_id) for t in touches}
        bound = {
            **_pairs(sorted(customers)),
            "per_customer": self.limits.per_customer,
            "keep": self.limits.keep,
        }
        async with self._engine.begin() as conn:
            await conn.execute(_RECORD, [_touch_params(t) for t in touches])
            await conn.execute(_BOUND, bound)

    async def touches(self, customers: Collection[Customer], since: datetime) -> list[Touch]:
        if not customers:
            return []
        async with self._engine.connect() as conn:
            result = await conn.execute(
                _TOUCHES, {**_pairs(sorted(set(customers))), "since": since}
            )
            return [_touch(row) for row in result.mappings()]

    async def prune(self, before: datetime) -> int:
        async with self._engine.begin() as conn:
            result = await conn.execute(_PRUNE, {"before": before})
            gone: int = result.rowcount
            return gone

    async def add(self, conversions: Sequence[ConversionAttributedEvent]) -> None:
        if not conversions:
            return
        async with self._engine.begin() as conn:
            await conn.execute(_ADD, [_conversion_params(c) for c in conversions])

    async def conversions(self, keys: Collection[OrderKey]) -> dict[OrderKey, Conversion]:
        if not keys:
            return {}
        async with self._engine.connect() as conn:
            result = await conn.execute(_CONVERSIONS, _pairs(sorted(set(keys))))
            held = [
                Conversion(parse_conversion_event(row["event"]), row["published"])
                for row in result.mappings()
            ]
        return {c.key: c for c in held}

    async def mark_published(self, keys: Collection[OrderKey]) -> None:
        if not keys:
            return
        async with self._engine.begin() as conn:
            await conn.execute(_PUBLISHED, _pairs(sorted(set(keys))))


def _pairs(pairs: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    return {"firsts": [a for a, _ in pairs], "seconds": [b for _, b in pairs]}


def _touch_params(touch: Touch) -> dict[str, Any]:
    info = touch.message
    return {
        "shop_id": touch.shop_id,
        "customer_id": touch.customer_id,
        "touch_id": touch.touch_id,
        "message_id": touch.message_id,
        "kind": touch.kind.value,
        "touched_at": touch.at,
        "channel": None if touch.channel is None else touch.channel.value,
        "campaign_id": None if info is None else info.campaign_id,
        "trigger_id": None if info is None else info.trigger_id,
        "transactional": None if info is None else info.transactional,
    }


def _touch(row: RowMapping) -> Touch:
    channel = None if row["channel"] is None else Channel(row["channel"])
    info = None
    if row["transactional"] is not None and channel is not None:
        info = MessageInfo(
            row["message_id"],
            channel,
            row["campaign_id"],
            row["trigger_id"],
            row["transactional"],
        )
    return Touch(
        shop_id=row["shop_id"],
        customer_id=row["customer_id"],
        touch_id=row["touch_id"],
        message_id=row["message_id"],
        kind=TouchKind(row["kind"]),
        at=row["touched_at"],
        channel=channel,
        message=info,
    )


def _conversion_params(event: ConversionAttributedEvent) -> dict[str, Any]:
    data = event.data
    return {
        "shop_id": event.shopid,
        "order_id": data.order_id,
        "customer_id": event.customerid,
        "event_id": event.id,
        "ordered_at": event.time,
        "revenue": data.revenue.amount,
        "currency": data.revenue.currency,
        "message_id": data.message.message_id,
        "campaign_id": data.message.campaign_id,
        "trigger_id": data.message.trigger_id,
        "channel": data.message.channel.value,
        "touch": data.touch.value,
        "touched_at": data.touched_at,
        "attribution_window": data.window,
        "model": data.model.value,
        "event": dump_shop_event(event).decode(),
    }
