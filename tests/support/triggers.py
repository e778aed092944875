"""Trigger records as the triggers worker fires them, for dispatch's tests."""

from __future__ import annotations

from datetime import UTC, datetime

from shared.events import trigger_id
from shared.events.triggers import TriggerFiredEvent


def abandoned_cart_fired(shop: str, customer: str, step: str) -> TriggerFiredEvent:
    """An abandoned-cart email step, due now."""
    return TriggerFiredEvent.model_validate(
        {
            "id": trigger_id(shop, customer, "abandoned_cart", "j-1", step),
            "source": "/tests",
            "time": datetime.now(UTC),
            "shopid": shop,
            "customerid": customer,
            "data": {
                "campaign_id": "abandoned_cart",
                "journey_id": "j-1",
                "step_id": step,
                "step_index": 0,
                "transactional": False,
                "channels": ["email"],
                "template_id": "cart/reminder-1",
                "due_at": datetime.now(UTC).isoformat(),
                "context": {},
            },
        }
    )
