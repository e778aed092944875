"""Nudge's event model: the CloudEvents envelope and the typed records of every topic."""

from shared.events.catalog import (
    EVENT_TYPES,
    SHOP_EVENT,
    ShopEvent,
    dump_shop_event,
    parse_shop_event,
    parse_shop_event_validated_upstream,
)
from shared.events.dead_letter import DeadLetter
from shared.events.envelope import (
    EventEnvelope,
    derived_event_id,
    new_event_id,
    record_key,
)
from shared.events.feedback import (
    FEEDBACK_EVENT,
    FeedbackEvent,
    parse_feedback_event,
    parse_feedback_event_validated_upstream,
)
from shared.events.messages import MESSAGE_EVENT, MessageEvent, message_id, parse_message_event
from shared.events.segments import (
    SEGMENT_EVENT,
    SegmentEvent,
    parse_segment_event,
    parse_segment_event_validated_upstream,
)
from shared.events.triggers import (
    TRIGGER_EVENT,
    TriggerEvent,
    parse_trigger_event,
    trigger_id,
)
from shared.events.types import VALIDATED_UPSTREAM

__all__ = [
    "EVENT_TYPES",
    "FEEDBACK_EVENT",
    "MESSAGE_EVENT",
    "SEGMENT_EVENT",
    "SHOP_EVENT",
    "TRIGGER_EVENT",
    "VALIDATED_UPSTREAM",
    "DeadLetter",
    "EventEnvelope",
    "FeedbackEvent",
    "MessageEvent",
    "SegmentEvent",
    "ShopEvent",
    "TriggerEvent",
    "derived_event_id",
    "dump_shop_event",
    "message_id",
    "new_event_id",
    "parse_feedback_event",
    "parse_feedback_event_validated_upstream",
    "parse_message_event",
    "parse_segment_event",
    "parse_segment_event_validated_upstream",
    "parse_shop_event",
    "parse_shop_event_validated_upstream",
    "parse_trigger_event",
    "record_key",
    "trigger_id",
]
