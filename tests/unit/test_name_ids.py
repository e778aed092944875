"""Name-based ids stay exactly what `uuid.uuid5` gives: ids already on the topics and in the
message log must not change."""

from __future__ import annotations

import uuid

from shared.events.messages import message_id
from shared.events.name_ids import NameIds
from shared.events.triggers import trigger_id

NAMESPACE = uuid.UUID("0b8e9c1e-3f55-4a8c-b1d2-7c6a5e4f3a10")
NAMES = ["", "a", "shop-1\x1fc-1\x1fabandoned_cart\x1fj-1\x1freminder-1", "Zoë 🛒", "x" * 5000]


def test_the_published_example() -> None:
    # The uuid module's documented example: uuid5(NAMESPACE_DNS, "python.org").
    assert NameIds(uuid.NAMESPACE_DNS)("python.org") == "886313e1-3b8a-5372-9b90-0c9aee199e5d"


def test_one_id_per_name_within_a_namespace() -> None:
    ids, other = NameIds(NAMESPACE), NameIds(uuid.NAMESPACE_URL)
    assert len({ids(name) for name in NAMES}) == len(NAMES)
    assert [ids(name) for name in NAMES] == [ids(name) for name in NAMES]
    assert all(ids(name) != other(name) for name in NAMES)


def test_ids_already_issued_are_unchanged() -> None:
    # Ids already on the topics and in the message log, written down when first issued.
    trigger = trigger_id("shop-1", "c-1", "abandoned_cart", "j-1", "reminder-1")
    assert trigger == "8451097c-0237-526a-b5bc-6fb08fff0a2b"
    assert message_id("t-1", "email") == "fdd0e798-a852-54c3-aa57-83619068556d"
