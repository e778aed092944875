"""`customer.profiles.v1` records as the segmenter writes them, for the read API's tests."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from shared.events.profiles import CustomerProfileEvent

NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def profile_event(
    shop: str,
    customer: str | None = None,
    *,
    anonymous: str | None = None,
    at: datetime = NOON,
    segments: Sequence[str] = (),
    since: datetime | None = None,
    rule_version: int = 1,
    orders: int = 1,
    revenue: str | None = "40.00",
    event_id: str | None = None,
) -> CustomerProfileEvent:
    """A customer's (or, `anonymous`, a visitor's) profile as of `at`, in `segments`."""
    data: dict[str, Any] = {
        "orders": orders,
        "revenue": None if revenue is None else {"amount": revenue, "currency": "EUR"},
        "lifecycle": "first_time" if orders == 1 else ("repeat" if orders else "lead"),
        "repeat_interval_days": Decimal("12.5") if orders > 1 else None,
        "consent": {"email": True},
        "engagement": {"email": {"sent": 2, "opened": 1}},
        "segments": [
            {"segment_id": s, "since": (since or at).isoformat(), "rule_version": rule_version}
            for s in segments
        ],
    }
    return CustomerProfileEvent.model_validate(
        {
            "id": event_id or f"p-{uuid.uuid4().hex[:12]}",
            "source": "/segmenter",
            "time": at.isoformat(),
            "shopid": shop,
            "customerid": customer,
            "anonymousid": anonymous,
            "data": data,
        }
    )


def profile_bytes(event: CustomerProfileEvent) -> bytes:
    """The record value, as the segmenter encodes it."""
    return event.model_dump_json(exclude_none=True).encode()
