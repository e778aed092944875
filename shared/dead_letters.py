"""Parking a record that cannot be processed: one builder for every consumer.

A dead letter keeps the record's original bytes (as text when they are UTF-8 and fit, else
base64), its key and coordinates, which service refused it and why. It is sized to fit its
topic whatever the record held (shared/limits.py), so parking can never fail for size and hold
up the records behind it. The record's own id stays inside its bytes: `nudge dlq replay`
publishes them unchanged, under the dead letter's own record key (the source record's key,
unchanged), and consumers treat the replay as the same event.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from shared.events.dead_letter import DeadLetter
from shared.limits import MAX_DEAD_LETTER_BYTES
from shared.topics import dead_letter_topic

MAX_REASON_CHARS = 10_000
MAX_KEY_CHARS = 1_000
"""The letter's `key` is for people reading it; the record's own key keeps the exact bytes."""


class SourceRecord(Protocol):
    """A consumed record as any runtime hands it over (aiokafka's, Faust's, our own)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class Parked:
    """A dead letter ready to send: its topic, the source record's key, the encoded letter."""

    topic: str
    key: bytes | None
    value: bytes


def dead_letter(
    *,
    source_topic: str,
    partition: int | None,
    offset: int | None,
    key: bytes | None,
    value: bytes | None,
    service: str,
    reason: str,
    now: datetime | None = None,
    topic: str | None = None,
) -> Parked:
    """The dead letter of one source record, for `source_topic`'s dead-letter topic (or for
    `topic`, where a service parks on a topic of its own: dispatch's `messages.dlq.v1`), parked
    at `now` (a service's clock; the wall clock without one). Every dead letter Nudge writes is
    built here: `park` for a consumed record, dispatch's given-up triggers (statuses.py)."""
    key_text = key.decode(errors="replace") if key is not None else None
    if key_text is not None and len(key_text) > MAX_KEY_CHARS:
        key_text = key_text[:MAX_KEY_CHARS] + "..."
    letter = DeadLetter(
        source_topic=source_topic,
        source_partition=partition,
        source_offset=offset,
        key=key_text,
        service=service,
        reason=reason[:MAX_REASON_CHARS],
        payload="",
        parked_at=now or datetime.now(UTC),
    )
    budget = MAX_DEAD_LETTER_BYTES - len(key or b"")
    return Parked(
        topic or dead_letter_topic(source_topic).name, key, encode(letter, value or b"", budget)
    )


def park(record: SourceRecord, *, service: str, reason: str, now: datetime | None = None) -> Parked:
    """The dead letter of a consumed record, for its own topic's dead-letter topic."""
    return dead_letter(
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        service=service,
        reason=reason,
        now=now,
    )


def encode(letter: DeadLetter, payload: bytes, budget: int = MAX_DEAD_LETTER_BYTES) -> bytes:
    """`letter` with `payload` inside, as text when it is UTF-8 and fits `budget`, else base64;
    a payload that fits neither way (larger than any topic allows) is left out and said so."""
    try:
        text: str | None = payload.decode()
    except UnicodeDecodeError:
        text = None
    if text is not None:
        value = _dump(letter, text, "utf-8")
        if len(value) <= budget:
            return value
    value = _dump(letter, base64.b64encode(payload).decode(), "base64")
    if len(value) <= budget:
        return value
    omitted = letter.model_copy(
        update={"reason": f"{letter.reason} (payload of {len(payload)} bytes left out)"}
    )
    return _dump(omitted, "", "omitted")


def _dump(letter: DeadLetter, payload: str, encoding: str) -> bytes:
    filled = letter.model_copy(update={"payload": payload, "payload_encoding": encoding})
    return filled.model_dump_json(exclude_none=True).encode()


def payload_bytes(letter: DeadLetter) -> bytes | None:
    """The source record's original bytes, or None when they were left out."""
    if letter.payload_encoding == "base64":
        return base64.b64decode(letter.payload)
    if letter.payload_encoding == "omitted":
        return None
    return letter.payload.encode()
