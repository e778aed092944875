"""Name-based ids stay exactly what `uuid.uuid5` gives: ids already on the topics and in the
message log must not change."""

from __future__ import annotations

import uuid

from shared.events.messages import message_id
from shared.events.name_ids import NameIds
from shared.events.triggers import trigger_id

NAMESPACE = uuid.UUID("0b8e9c1e-3f55-4a8c-b1d2-7c6a5e4f3a10")
NAMES = ["", "a", "shop-1\x1fc-1\x1fabandoned_cart\x1fj-1\x1freminder-1", "Zoë 🛒", "x" * 5000]


def test_the_same_ids_as_the_standard_library() -> None:
    ids = NameIds(NAMESPACE)
    for name in NAMES:
        assert ids(name) == str(uuid.uuid5(NAMESPACE, name))


def test_ids_already_issued_are_unchanged() -> None:
    # Written down from uuid.uuid5 before NameIds replaced it.
    trigger = trigger_id("shop-1", "c-1", "abandoned_cart", "j-1", "reminder-1")
    assert trigger == "8451097c-0237-526a-b5bc-6fb08fff0a2b"
    assert message_id("t-1", "email") == "fdd0e798-a852-54c3-aa57-83619068556d"
