"""What a stream worker (triggers, segmenter) hands its processor, and what it sends back.

Kept apart from Faust so that a processor is plain code over plain records: the worker wraps
Faust's events as `InputRecord`s, and an `Outbox` sends the `OutputRecord`s a batch collected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import ParamSpec, Protocol, TypeVar

from pydantic import ValidationError

P = ParamSpec("P")
R = TypeVar("R")


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
