"""Record sizes agree everywhere (shared/limits.py): what producers may send, what topics take,
what consumers fetch, and what a dead letter of the largest, nastiest record needs."""

from __future__ import annotations

import pytest

from shared.dead_letters import dead_letter, payload_bytes
from shared.events.dead_letter import DeadLetter
from shared.kafka import consumer_fetch_options
from shared.limits import MAX_EVENT_BYTES, TOPIC_MAX_MESSAGE_BYTES
from shared.loop_producer import producer_config
from shared.settings import KafkaSettings
from shared.topics import ALL_TOPICS, DEAD_LETTER_TOPICS, dead_letter_topic

RECORD_FRAMING_BYTES = 128
"""A record batch of one record, around its key and value (61 bytes of batch header, about 20
of record header), rounded up."""
LARGEST = max(spec.max_message_bytes for spec in ALL_TOPICS)
KEY = b"acme:7390498521379"


def test_every_topic_declares_its_limit() -> None:
    for spec in ALL_TOPICS:
        assert spec.config()["max.message.bytes"] == str(spec.max_message_bytes)
    assert MAX_EVENT_BYTES < TOPIC_MAX_MESSAGE_BYTES


def test_producers_send_anything_a_topic_takes() -> None:
    config = producer_config(KafkaSettings(), client_id="t", linger_ms=0, timeout_s=1)
    assert config["message.max.bytes"] >= LARGEST


def test_consumers_fetch_anything_a_topic_takes() -> None:
    assert consumer_fetch_options()["max_partition_fetch_bytes"] >= LARGEST


def _largest(pattern: bytes) -> bytes:
    """The largest value a data topic takes under KEY, made of `pattern`."""
    room = TOPIC_MAX_MESSAGE_BYTES - RECORD_FRAMING_BYTES - len(KEY)
    return (pattern * (room // len(pattern) + 1))[:room]


NASTY = {
    "quotes": b'"',
    "backslashes": b"\\",
    "control characters": b"\x00\x01\x1f",  # six bytes each as JSON text
    "not UTF-8": b"\xff\xfe",
    "half a character": "\u20ac".encode()[:2] + b"x",
    "emoji and quotes": '"\U0001f600\\'.encode(),
}


@pytest.mark.parametrize("source", sorted(DEAD_LETTER_TOPICS))
@pytest.mark.parametrize("content", sorted(NASTY))
def test_a_dead_letter_of_the_largest_nastiest_record_fits_its_topic(
    source: str, content: str
) -> None:
    value = _largest(NASTY[content])
    parked = dead_letter(
        source_topic=source,
        partition=11,
        offset=2**40,
        key=KEY,
        value=value,
        service="triggers",
        reason="invalid record: " + NASTY[content].decode(errors="replace") * 5_000,
    )
    topic = dead_letter_topic(source)
    assert parked.topic == topic.name
    record = len(parked.key or b"") + len(parked.value) + RECORD_FRAMING_BYTES
    assert record <= topic.max_message_bytes
    letter = DeadLetter.model_validate_json(parked.value)
    assert letter.payload_encoding != "omitted"
    assert payload_bytes(letter) == value
