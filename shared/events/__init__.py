"""Nudge's event model: the CloudEvents envelope and the typed shop events."""

from shared.events.catalog import (
    EVENT_TYPES,
    SHOP_EVENT,
    ShopEvent,
    dump_shop_event,
    parse_shop_event,
)
from shared.events.dead_letter import DeadLetter
from shared.events.envelope import (
    EventEnvelope,
    derived_event_id,
    new_event_id,
    record_key,
)

__all__ = [
    "EVENT_TYPES",
    "SHOP_EVENT",
    "DeadLetter",
    "EventEnvelope",
    "ShopEvent",
    "derived_event_id",
    "dump_shop_event",
    "new_event_id",
    "parse_shop_event",
    "record_key",
]
