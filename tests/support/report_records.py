"""Records as they travel on the three topics reports read, as bytes: the unit tests feed them
to the consumer, the integration test to the real broker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from shared.events.conversions import conversion_event_id

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def envelope(
    shop: str,
    kind: str,
    data: dict[str, Any],
    *,
    at: datetime = AT,
    customer: str = "c1",
    event_id: str | None = None,
) -> bytes:
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": event_id or str(uuid.uuid4()),
            "source": "/tests",
            "type": kind,
            "time": at.isoformat(),
            "shopid": shop,
            "customerid": customer,
            "data": data,
        }
    )


def status(
    shop: str,
    kind: str,
    message_id: str,
    *,
    campaign: str = "abandoned_cart",
    channel: str = "email",
    at: datetime = AT,
    event_id: str | None = None,
) -> bytes:
    """A dispatch status (`message.sent`, `.failed`, `.queued`...)."""
    update = {
        "message_id": message_id,
        "trigger_id": f"t-{message_id}",
        "campaign_id": campaign,
        "step_id": "first",
        "channel": channel,
        "transactional": False,
        "status": kind.removeprefix("message."),
    }
    return envelope(shop, kind, update, at=at, event_id=event_id)


def delivery(
    shop: str,
    kind: str,
    message_id: str,
    *,
    campaign: str = "abandoned_cart",
    at: datetime = AT,
) -> bytes:
    """An SMS provider's word: `message.delivered` or `message.undelivered`."""
    word = kind.removeprefix("message.")
    data = {
        "message_id": message_id,
        "trigger_id": f"t-{message_id}",
        "campaign_id": campaign,
        "channel": "sms",
        "transactional": False,
        "status": word,
        "provider_id": f"SM{message_id[:8]}",
        "provider_status": word,
    }
    return envelope(shop, kind, data, at=at)


def ref(message_id: str | None, campaign: str | None = None) -> dict[str, Any] | None:
    if message_id is None:
        return None
    return {"message_id": message_id, **({"campaign_id": campaign} if campaign else {})}


def engagement(
    shop: str,
    kind: str,
    message_id: str,
    *,
    campaign: str | None = None,
    machine: bool = False,
    at: datetime = AT,
    event_id: str | None = None,
) -> bytes:
    """`message.opened` or `message.clicked`."""
    data: dict[str, Any] = {"channel": "email", "message": ref(message_id, campaign)}
    if machine:
        data |= {"machine": True, "reason": "scanner"}
    return envelope(shop, kind, data, at=at, event_id=event_id)


def reply(
    shop: str,
    message_id: str | None,
    tags: list[str],
    *,
    campaign: str | None = None,
    at: datetime = AT,
    event_id: str | None = None,
) -> bytes:
    data: dict[str, Any] = {"channel": "sms", "text": "Where is my order?", "tags": tags}
    if message_id is not None:
        data["message"] = ref(message_id, campaign)
    return envelope(shop, "reply.received", data, at=at, event_id=event_id)


def unsubscribed(
    shop: str, message_id: str | None, *, campaign: str | None = None, at: datetime = AT
) -> bytes:
    data: dict[str, Any] = {"channel": "email", "source": "one_click"}
    if message_id is not None:
        data["message"] = ref(message_id, campaign)
    return envelope(shop, "consent.withdrawn", data, at=at)


def bounced(
    shop: str, message_id: str | None, *, campaign: str | None = None, at: datetime = AT
) -> bytes:
    data: dict[str, Any] = {"email": "ada@example.com", "kind": "hard"}
    if message_id is not None:
        data["message"] = ref(message_id, campaign)
    return envelope(shop, "email.bounced", data, at=at)


def complained(shop: str, message_id: str | None, *, campaign: str | None = None) -> bytes:
    data: dict[str, Any] = {"email": "ada@example.com"}
    if message_id is not None:
        data["message"] = ref(message_id, campaign)
    return envelope(shop, "complaint.received", data)


def answered(
    shop: str,
    message_id: str,
    survey: str,
    score: int,
    *,
    campaign: str = "review_request",
    tags: list[str] | None = None,
    at: datetime = AT,
    event_id: str | None = None,
) -> bytes:
    data = {
        "survey": survey,
        "score": score,
        "tags": tags or [],
        "message": ref(message_id, campaign),
    }
    return envelope(shop, "survey.answered", data, at=at, event_id=event_id)


def conversion(
    shop: str,
    order_id: str,
    message_id: str,
    amount: str,
    currency: str = "EUR",
    *,
    campaign: str = "cross_sell",
    at: datetime = AT,
) -> bytes:
    data = {
        "order_id": order_id,
        "revenue": {"amount": amount, "currency": currency},
        "message": {"message_id": message_id, "campaign_id": campaign, "channel": "email"},
        "touch": "click",
        "touched_at": (at - timedelta(hours=1)).isoformat(),
        "window": "P5D",
        "model": "last_touch",
        "order_event_id": str(uuid.uuid4()),
    }
    event_id = conversion_event_id(shop, order_id)
    return envelope(shop, "conversion.attributed", data, at=at, event_id=event_id)
