"""The records of the feedback, segment and trigger topics: validation and stable ids."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from shared.events import (
    parse_feedback_event,
    parse_segment_event,
    parse_trigger_event,
    trigger_id,
)
from shared.events.feedback import SurveyAnsweredEvent
from shared.events.segments import SegmentEnteredEvent
from shared.events.triggers import TriggerFiredEvent

ENVELOPE: dict[str, Any] = {
    "id": "e-1",
    "source": "/shops/acme/feedback",
    "time": "2026-11-23T10:00:00+01:00",
    "shopid": "acme",
    "customerid": "42",
}


def test_survey_answer_parses_and_keeps_the_scale() -> None:
    event = parse_feedback_event(
        orjson.dumps({**ENVELOPE, "type": "survey.answered", "data": {"survey": "nps", "score": 9}})
    )
    assert isinstance(event, SurveyAnsweredEvent)
    assert event.data.score == 9
    assert event.time.utcoffset() is not None and event.time.hour == 9


@pytest.mark.parametrize("score", [0, 6])
def test_csat_outside_one_to_five_is_refused(score: int) -> None:
    data = {"survey": "csat", "score": score}
    raw = orjson.dumps({**ENVELOPE, "type": "survey.answered", "data": data})
    with pytest.raises(ValidationError, match="CSAT score is between 1 and 5"):
        parse_feedback_event(raw)


def test_unknown_feedback_type_is_refused_by_name() -> None:
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        parse_feedback_event(orjson.dumps({**ENVELOPE, "type": "reply.sent", "data": {}}))


def test_segment_change_needs_a_valid_segment_id() -> None:
    entered = {**ENVELOPE, "type": "segment.entered", "data": {"segment_id": "vip"}}
    assert isinstance(parse_segment_event(orjson.dumps(entered)), SegmentEnteredEvent)
    with pytest.raises(ValidationError, match="segment_id"):
        parse_segment_event(orjson.dumps({**entered, "data": {"segment_id": "VIP customers"}}))


def test_trigger_ids_are_deterministic_and_distinct_per_step() -> None:
    first = trigger_id("acme", "42", "abandoned_cart", "cart-1", "reminder-1")
    assert first == trigger_id("acme", "42", "abandoned_cart", "cart-1", "reminder-1")
    assert first != trigger_id("acme", "42", "abandoned_cart", "cart-1", "reminder-2")
    assert first != trigger_id("acme", "43", "abandoned_cart", "cart-1", "reminder-1")


def test_fired_trigger_round_trips() -> None:
    record = {
        **ENVELOPE,
        "id": trigger_id("acme", "42", "abandoned_cart", "cart-1", "reminder-1"),
        "type": "trigger.fired",
        "data": {
            "campaign_id": "abandoned_cart",
            "journey_id": "cart-1",
            "step_id": "reminder-1",
            "step_index": 0,
            "transactional": False,
            "channels": ["email", "sms"],
            "fallback": {"channel": "sms", "unless": "opened", "within_hours": 24},
            "template_id": "abandoned_cart/reminder-1",
            "due_at": "2026-11-23T10:30:00Z",
            "context": {
                "cart": {
                    "items": [{"product_id": "p1", "quantity": 2}],
                    "recovery_url": "https://acme.example/cart/c1",
                }
            },
        },
    }
    event = parse_trigger_event(orjson.dumps(record))
    assert isinstance(event, TriggerFiredEvent)
    assert event.data.context.cart is not None
    assert event.data.context.cart.items[0].quantity == 2
    again = parse_trigger_event(event.model_dump_json(exclude_none=True))
    assert again == event


def test_trigger_needs_a_channel() -> None:
    record = {
        **ENVELOPE,
        "type": "trigger.fired",
        "data": {
            "campaign_id": "vip",
            "journey_id": "j",
            "step_id": "s",
            "step_index": 0,
            "transactional": False,
            "channels": [],
            "template_id": "vip/entry",
            "due_at": "2026-11-23T10:30:00Z",
        },
    }
    with pytest.raises(ValidationError, match="channels"):
        parse_trigger_event(orjson.dumps(record))
