"""Reading a record's type without validating it, and which records a consumer passes over."""

from __future__ import annotations

from shared.events import ShopEvent, TriggerEvent
from shared.events.catalog import CustomerUpdatedEvent
from shared.events.peek import Skipping, record_type, types_of, union_types
from shared.events.triggers import TriggerFiredEvent


def test_the_type_is_read_from_a_json_object_whatever_else_it_holds() -> None:
    assert record_type(b'{"id": 1, "type": "product.viewed", "data": {"x": [1, {}]}}') == (
        "product.viewed"
    )


def test_no_type_when_the_record_is_not_an_object_with_a_text_type() -> None:
    for raw in (b"{not json", b"", b"[1, 2]", b'"text"', b'{"type": 3}', b'{"id": "e-1"}'):
        assert record_type(raw) is None, raw


def test_a_unions_types_are_its_models_types() -> None:
    assert union_types(TriggerEvent) == {"trigger.fired", "trigger.expired", "journey.exited"}
    assert "customer.updated" in union_types(ShopEvent)


def test_only_known_types_that_are_not_wanted_are_skipped() -> None:
    skipping = Skipping(ShopEvent, types_of((CustomerUpdatedEvent, TriggerFiredEvent)))
    assert skipping.skips(b'{"type": "product.viewed", "data": "not even valid"}')
    assert not skipping.skips(b'{"type": "customer.updated"}')
    assert not skipping.skips(b'{"type": "trigger.fired"}')  # another topic's: not known here
    assert not skipping.skips(b'{"type": "nothing.known"}')  # parsed in full, hence parked
    assert not skipping.skips(b"{not json")
