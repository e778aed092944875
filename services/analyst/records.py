"""The records `nudge tail` prints: chosen by the filter, and as JSON Lines.

One JSON object per record, with stable field names (docs/ANALYSTS.md): `topic`,
`partition`, `offset`, `timestamp` (the record's, ISO 8601 in UTC with milliseconds, or null),
`key` (text, or null when there is none), and `value`: the record value as JSON (null for a
tombstone). A key or value that is not UTF-8 text, or a value that is not JSON, comes as
`key_base64` / `value_base64` instead, so nothing is lost or mangled.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.analyst.filters import KeyVerdict, RecordFilter
from shared.kafka import TailRecord

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Decoded:
    """A record value parsed once: `value` is the JSON when `is_json`, else None."""

    is_json: bool
    value: Any = None


def decode_value(raw: bytes | None) -> Decoded:
    if raw is None:
        return Decoded(True, None)
    try:
        return Decoded(True, json.loads(raw))
    except ValueError:  # not JSON, or not UTF-8 (UnicodeDecodeError is a ValueError)
        return Decoded(False)


def select(
    records: Iterable[TailRecord], wanted: RecordFilter
) -> Iterator[tuple[TailRecord, Decoded]]:
    """The records `wanted` lets through, each with its parsed value. The key is looked at
    first: a record it rules out is never parsed."""
    for record in records:
        verdict = wanted.key_verdict(record.key)
        if verdict is KeyVerdict.REJECT:
            continue
        decoded = decode_value(record.value)
        if (verdict is KeyVerdict.UNDECIDED or wanted.needs_value) and not wanted.value_matches(
            record.topic, decoded.value, verdict
        ):
            continue
        yield record, decoded


def json_record(record: TailRecord, decoded: Decoded) -> dict[str, Any]:
    """The JSON Lines object of one record (field names are a published contract)."""
    out: dict[str, Any] = {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": iso_timestamp(record.timestamp_ms),
    }
    if record.key is None:
        out["key"] = None
    else:
        try:
            out["key"] = record.key.decode()
        except UnicodeDecodeError:
            out["key_base64"] = base64.b64encode(record.key).decode()
    if decoded.is_json:
        out["value"] = decoded.value
    else:
        out["value_base64"] = base64.b64encode(record.value or b"").decode()
    return out


def json_line(record: TailRecord, decoded: Decoded) -> str:
    return json.dumps(json_record(record, decoded), ensure_ascii=False, separators=(",", ":"))


def iso_timestamp(ms: int | None) -> str | None:
    """`2026-11-23T10:15:00.123Z` for a record timestamp in ms since the epoch."""
    if ms is None:
        return None
    try:
        moment = _EPOCH + timedelta(milliseconds=ms)
    except OverflowError:  # a producer's nonsense: beyond what a date can say
        return None
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
