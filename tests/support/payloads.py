"""Native events as a shop would send them."""

from __future__ import annotations

import uuid
from typing import Any


def order_placed(
    customer_id: str, *, event_id: str | None = None, total: str = "59.90"
) -> dict[str, Any]:
    return {
        "id": event_id or str(uuid.uuid4()),
        "type": "order.placed",
        "time": "2026-11-23T10:15:00+01:00",
        "customerid": customer_id,
        "data": {
            "order_id": f"o-{uuid.uuid4().hex[:8]}",
            "items": [
                {
                    "product_id": "820982911946154508",
                    "title": "Ethiopia Yirgacheffe 250 g",
                    "category": "coffee",
                    "quantity": 2,
                    "price": {"amount": "29.95", "currency": "EUR"},
                }
            ],
            "total": {"amount": total, "currency": "EUR"},
        },
    }


def product_viewed(
    *, customer_id: str | None = None, anonymous_id: str | None = None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "type": "product.viewed",
        "time": "2026-11-23T09:00:00Z",
        "data": {"product": {"product_id": "p-1", "title": "Grinder", "category": "equipment"}},
    }
    if customer_id:
        event["customerid"] = customer_id
    if anonymous_id:
        event["anonymousid"] = anonymous_id
    return event
