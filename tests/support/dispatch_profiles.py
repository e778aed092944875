"""`customer.profiles.v1` records with the parts dispatch reads (engagement, RFM), as the
segmenter writes them, for dispatch's unit and integration tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from aiokafka import ConsumerRecord

from shared.events.profiles import CustomerProfileEvent
from shared.topics import CUSTOMER_PROFILES

NOON = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def profile(
    shop: str,
    customer: str | None,
    *,
    at: datetime = NOON,
    engagement: dict[str, dict[str, Any]] | None = None,
    monetary: int | None = None,
    anonymous: str | None = None,
    event_id: str | None = None,
) -> CustomerProfileEvent:
    """A profile as of `at`, with this engagement per channel and RFM monetary score."""
    data: dict[str, Any] = {
        "orders": 3,
        "revenue": {"amount": "120.00", "currency": "EUR"},
        "lifecycle": "repeat",
        "rfm": None if monetary is None else {"r": 3, "f": 3, "m": monetary},
        "engagement": engagement or {},
        "consent": {"email": True, "sms": True},
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


def sms_engaged(at: datetime = NOON) -> dict[str, dict[str, Any]]:
    """Engagement of a customer who clicked an SMS and never an email."""
    return {
        "email": {"sent": 1, "delivered": 1},
        "sms": {"sent": 1, "delivered": 1, "clicked": 1, "last_engaged_at": at.isoformat()},
    }


def record(
    event: CustomerProfileEvent | None,
    *,
    key: str | None = None,
    value: bytes | None = None,
    offset: int = 0,
) -> ConsumerRecord[bytes, bytes]:
    """The record as a consumer hands it over: the event's key and bytes, unless given."""
    if event is not None:
        key = key or event.key
        value = value or event.model_dump_json(exclude_none=True).encode()
    raw_key = None if key is None else key.encode()
    size = 0 if value is None else len(value)
    return ConsumerRecord(
        CUSTOMER_PROFILES.name, 0, offset, 0, 0, raw_key, value, None, 0, size, ()
    )
