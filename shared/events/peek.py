"""A record's event type read without validating the record: for consumers that act on a few
types of a topic and pass over the others.

A topic's records are mostly of types a given consumer ignores (page views, cart updates);
validating each one in full before dropping it costs more than everything else the consumer
does with them. `Skipping` names the types of a topic that are known and not wanted: only
those are passed over unvalidated. A record whose type is unknown, missing or unreadable is
still parsed in full, and so still parked with its reason (invariant 4).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, get_args

import msgspec

from shared.events.envelope import EventEnvelope


class _Type(msgspec.Struct):
    """The one field read; msgspec skips every other field without building it."""

    type: str | None = None


_DECODER = msgspec.json.Decoder(_Type)


def record_type(raw: bytes) -> str | None:
    """The `type` of a record's JSON object; None when it is not a JSON object with a string
    `type` (the full parse then says what is wrong)."""
    try:
        return _DECODER.decode(raw).type
    except msgspec.DecodeError:
        return None


def union_types(union: Any) -> frozenset[str]:
    """The `type` of each model of a topic's discriminated union (`ShopEvent`, ...)."""
    return frozenset(_type_of(member) for member in get_args(get_args(union)[0]))


def types_of(models: Iterable[type[EventEnvelope]]) -> frozenset[str]:
    """The `type` of each event model."""
    return frozenset(_type_of(model) for model in models)


def _type_of(model: type[EventEnvelope]) -> str:
    return str(model.model_fields["type"].default)


class Skipping:
    """The known types of a topic (its union's) that a consumer does not act on: those not
    among `wanted` (type names, of any topic)."""

    def __init__(self, union: Any, wanted: Iterable[str]) -> None:
        self.skipped = union_types(union) - frozenset(wanted)

    def skips(self, raw: bytes) -> bool:
        """Whether the record is of a known type this consumer does not act on."""
        return record_type(raw) in self.skipped
