"""The records a stream worker sends itself on its commands topic (`triggers.commands.v1`,
`segmenter.commands.v1`).

Both carry work that must happen in the context of the customer's partition, in order with
the customer's events: a timer falling due (the tick only knows *who* is due; the state is
re-read and re-checked when the command is processed), and an anonymous visitor's state
moving to the customer's key after `customer.identified`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

_DUE: Final = b"D"
_MERGE: Final = b"M"


@dataclass(frozen=True)
class TimerDue:
    pass


@dataclass(frozen=True)
class MergeVisitor:
    visitor_state: bytes


Command = TimerDue | MergeVisitor


def encode(command: Command) -> bytes:
    if isinstance(command, MergeVisitor):
        return _MERGE + command.visitor_state
    return _DUE


def decode(value: bytes) -> Command:
    """Raise ValueError on anything this service did not write."""
    tag, body = value[:1], value[1:]
    if tag == _DUE and not body:
        return TimerDue()
    if tag == _MERGE and body:
        return MergeVisitor(body)
    raise ValueError(f"not a worker command: {value[:20]!r}")
