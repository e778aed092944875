"""The one dead-letter builder: the original bytes kept exactly, the letter sized to its topic."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from shared.dead_letters import MAX_KEY_CHARS, dead_letter, payload_bytes
from shared.events.dead_letter import DeadLetter
from shared.limits import MAX_DEAD_LETTER_BYTES
from shared.topics import MESSAGES_DLQ, SHOP_EVENTS, TRIGGERS_COMMANDS, TRIGGERS_FIRED

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def park(value: bytes | None, key: bytes | None = b"acme:c1", **extra: object) -> DeadLetter:
    parked = dead_letter(
        source_topic=SHOP_EVENTS.name,
        partition=3,
        offset=41,
        key=key,
        value=value,
        service="triggers",
        reason="invalid record: data: Field required",
        now=AT,
        **extra,  # type: ignore[arg-type]
    )
    assert parked.key == key
    return DeadLetter.model_validate_json(parked.value)


def test_text_is_kept_as_text_whitespace_and_all() -> None:
    value = b'  {"id": "e-1", "note": "caf\xc3\xa9 \\"x\\"\\n"}\n\t'
    letter = park(value)
    assert letter.payload_encoding == "utf-8"
    assert payload_bytes(letter) == value
    assert (letter.source_topic, letter.source_partition, letter.source_offset) == (
        SHOP_EVENTS.name,
        3,
        41,
    )
    assert letter.service == "triggers" and letter.parked_at == AT


def test_bytes_that_are_not_utf8_are_kept_as_base64() -> None:
    value = b"\xff\x00\xfe not text"
    letter = park(value)
    assert letter.payload_encoding == "base64"
    assert payload_bytes(letter) == value


def test_text_too_large_once_escaped_falls_back_to_base64() -> None:
    value = b"\x00" * (MAX_DEAD_LETTER_BYTES // 4)  # six bytes each as JSON text: too large
    letter = park(value)
    assert letter.payload_encoding == "base64"
    assert payload_bytes(letter) == value


def test_a_payload_too_large_either_way_is_left_out_and_said_so() -> None:
    value = b"\xff" * MAX_DEAD_LETTER_BYTES
    letter = park(value)
    assert letter.payload_encoding == "omitted" and payload_bytes(letter) is None
    assert f"payload of {len(value)} bytes left out" in letter.reason


def test_the_key_counts_against_the_letters_size() -> None:
    """Key and letter share the record: a long key leaves less room for the payload."""
    value = b'"' * (MAX_DEAD_LETTER_BYTES // 2 - 1_000)  # fits as text on its own
    assert park(value, key=b"k").payload_encoding == "utf-8"
    long_key = b"k" * 10_000
    letter = park(value, key=long_key)
    assert letter.payload_encoding == "base64"
    assert letter.key is not None and len(letter.key) <= MAX_KEY_CHARS + 3


def test_a_record_without_key_or_value() -> None:
    letter = park(None, key=None)
    assert letter.key is None and payload_bytes(letter) == b""


def test_each_source_goes_to_its_own_dead_letter_topic_unless_told() -> None:
    def topic(source: str, **extra: str) -> str:
        return dead_letter(
            source_topic=source,
            partition=None,
            offset=None,
            key=None,
            value=b"{}",
            service="x",
            reason="r",
            **extra,  # type: ignore[arg-type]
        ).topic

    assert topic(SHOP_EVENTS.name) == "shop.events.dlq.v1"
    assert topic(TRIGGERS_COMMANDS.name) == "triggers.commands.dlq.v1"
    assert topic(TRIGGERS_FIRED.name, topic=MESSAGES_DLQ.name) == MESSAGES_DLQ.name


def test_a_long_reason_is_cut_and_the_letter_still_validates() -> None:
    parked = dead_letter(
        source_topic=SHOP_EVENTS.name,
        partition=0,
        offset=0,
        key=b"k",
        value=b"\xff" * MAX_DEAD_LETTER_BYTES,
        service="x",
        reason="\x00" * 50_000,
    )
    letter = DeadLetter.model_validate(orjson.loads(parked.value))
    assert letter.reason.startswith("\x00" * 10_000) and "left out" in letter.reason
