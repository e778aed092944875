"""Intake passes over the known event types it stores nothing from without validating them,
and still refuses (so parks) what it cannot read or does not know."""

from __future__ import annotations

import orjson
import pytest
from aiokafka import ConsumerRecord
from pydantic import ValidationError

from services.dispatch.intake import _effects
from shared.topics import FEEDBACK_EVENTS, SHOP_EVENTS, TRIGGERS_FIRED


def record(topic: str, kind: str, data: object) -> ConsumerRecord[bytes, bytes]:
    value = orjson.dumps(
        {
            "specversion": "1.0",
            "id": "e-1",
            "source": "/shops/acme/api",
            "type": kind,
            "time": "2027-03-01T12:00:00Z",
            "shopid": "acme",
            "customerid": "c1",
            "data": data,
        }
    )
    return ConsumerRecord(topic, 0, 1, 0, 0, None, value, None, 0, len(value), ())


def test_types_with_no_effect_are_passed_over_even_when_malformed() -> None:
    for topic, kind in (
        (SHOP_EVENTS.name, "product.viewed"),
        (SHOP_EVENTS.name, "order.placed"),
        (FEEDBACK_EVENTS.name, "survey.answered"),
        (TRIGGERS_FIRED.name, "journey.exited"),
    ):
        assert _effects(record(topic, kind, {"not": "valid"})) is None, kind


def test_types_it_stores_from_and_unknown_types_are_validated() -> None:
    for topic, kind in (
        (SHOP_EVENTS.name, "customer.updated"),
        (SHOP_EVENTS.name, "subscription.changed"),
        (SHOP_EVENTS.name, "nothing.known"),
        (FEEDBACK_EVENTS.name, "message.clicked"),
        (FEEDBACK_EVENTS.name, "email.bounced"),
        (TRIGGERS_FIRED.name, "trigger.fired"),
    ):
        with pytest.raises(ValidationError):
            _effects(record(topic, kind, {"email": 3}))


def test_a_customers_update_still_gives_its_contact_facts() -> None:
    effects = _effects(record(SHOP_EVENTS.name, "customer.updated", {"email": "a@example.com"}))
    assert effects is not None and effects.facts is not None
    assert effects.facts.fields["email"] == "a@example.com"
