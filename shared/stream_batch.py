"""What a stream worker (triggers, segmenter) hands its processor, and what it sends back.

Kept apart from Faust so that a processor is plain code over plain records: the worker wraps
Faust's events as `InputRecord`s, and an `Outbox` sends the `OutputRecord`s a batch collected.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import ParamSpec, Protocol, TypeVar

from pydantic import ValidationError

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")
E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class InputRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    origin: object = None
    """The runtime's own handle of the record (Faust's event), given back to the processor's
    `scope` when the state of the record's key is written."""
    timestamp: float | None = None
    """The record's Kafka timestamp (unix seconds, wall clock): a moment that is the same when
    the record is read again, unlike the time it is processed."""


@dataclass(frozen=True, slots=True)
class OutputRecord:
    topic: str
    key: bytes | None
    """None only for a dead letter of a record that had no key."""
    value: bytes


class Outbox(Protocol):
    async def publish_all(self, records: Sequence[OutputRecord]) -> None:
        """Send the records in order; return once the broker acknowledged every one."""
        ...

    async def send_command(self, key: bytes, value: bytes) -> None:
        """Send a record to the commands topic (need not wait for the acknowledgement)."""
        ...


WriteScope = Callable[[object], AbstractContextManager[object]]
"""Entered around the table writes of a key, with the origin of the key's last record."""


def no_scope(origin: object) -> AbstractContextManager[object]:
    return nullcontext()


class DecisionFailed(Exception):
    """The decision code raised: a bug, reported with the record parked, never a crash loop."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(f"internal error: {cause!r}")
        self.cause = cause


def deciding(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Call pure decision code; any exception it raises becomes DecisionFailed."""
    try:
        return function(*args, **kwargs)
    except Exception as exc:
        raise DecisionFailed(exc) from exc


def invalid_reason(exc: Exception) -> str:
    """The dead-letter reason of a record that failed to decode or validate."""
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_url=False, include_input=False)
        parts = [f"{'.'.join(str(p) for p in e['loc']) or '(record)'}: {e['msg']}" for e in errors]
        return "invalid record: " + "; ".join(parts[:20])
    return f"invalid record: {exc}"


def handle_record(
    record: InputRecord,
    *,
    commands_topic: str,
    parsers: Mapping[str, Callable[[bytes], E]],
    on_command: Callable[[bytes, bytes], None],
    on_event: Callable[[bytes, E], None],
    park: Callable[[str], None],
) -> bool:
    """Route one record to the worker's command or event handler; a record that cannot be
    decoded, and a bug met while deciding, is parked with its reason (invariant 4) and never
    takes its neighbours down. Returns whether it was processed."""
    key, value = record.key, record.value
    try:
        if key is None or value is None:
            raise ValueError("record without key or value")
        if record.topic == commands_topic:
            on_command(key, value)
        else:
            on_event(key, parsers[record.topic](value))
    except (ValidationError, ValueError, KeyError, UnicodeDecodeError) as exc:
        park(invalid_reason(exc))
    except DecisionFailed as exc:
        log.error(
            "cannot decide on %s[%d]@%d",
            record.topic,
            record.partition,
            record.offset,
            exc_info=exc.cause,
        )
        park(str(exc))
    else:
        return True
    return False


def check_key(key: bytes, expected: str) -> None:
    """A record's key must be the one its event names (`shop:customer`), or its state would be
    kept under someone else's."""
    if key.decode() != expected:
        raise ValueError(f"record key {key.decode()!r} does not match the event ({expected!r})")


async def send_due(
    pop: Callable[[], list[tuple[str, float]]],
    put_back: Callable[[str, float], None],
    send: Callable[[bytes], Awaitable[None]],
) -> int:
    """Send a command for each key `pop` found due; those not sent go back to be retried on
    the next tick. Returns how many were due."""
    due = pop()
    for position, (key, _due) in enumerate(due):
        try:
            await send(key.encode())
        except Exception:
            for unsent_key, unsent_due in due[position:]:
                put_back(unsent_key, unsent_due)
            raise
    return len(due)
