"""`nudge tail`'s record selection and its JSON Lines objects."""

from __future__ import annotations

import base64
import json

import pytest

from services.analyst import records
from services.analyst.filters import build_filter
from services.analyst.records import Decoded, decode_value, iso_timestamp, json_line, select
from shared.kafka import TailRecord
from shared.topics import CUSTOMER_PROFILES, SHOP_EVENTS

ORDER = {"type": "order.placed", "shopid": "acme", "customerid": "c1", "data": {}}


def record(key: bytes | None, value: bytes | None, offset: int = 7) -> TailRecord:
    return TailRecord(SHOP_EVENTS.name, 3, offset, 1_795_428_900_123, key, value)


def test_a_record_ruled_out_by_its_key_is_never_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[bytes | None] = []

    def counting(raw: bytes | None) -> Decoded:
        parsed.append(raw)
        return decode_value(raw)

    monkeypatch.setattr(records, "decode_value", counting)
    mine = json.dumps(ORDER).encode()
    stream = [
        record(b"beta:c1", b"{never parsed", 1),
        record(b"acme:c1", mine, 2),
        record(b"acme:c2", b"{never parsed", 3),
    ]
    chosen = list(select(stream, build_filter(shops=["acme"], customers=["c1"])))
    assert [(r.offset, d.value) for r, d in chosen] == [(2, ORDER)]
    assert parsed == [mine]


def test_types_and_keyless_records_are_decided_on_the_value() -> None:
    cart = {**ORDER, "type": "cart.updated"}
    stream = [
        record(b"acme:c1", json.dumps(ORDER).encode(), 1),
        record(b"acme:c1", json.dumps(cart).encode(), 2),
        record(None, json.dumps(ORDER).encode(), 3),
        record(None, json.dumps({**ORDER, "shopid": "beta"}).encode(), 4),
        record(b"acme:c1", b"not json", 5),
    ]
    by_type = select(stream, build_filter(types=["order.*"]))
    assert [r.offset for r, _ in by_type] == [1, 3, 4]
    by_shop = select(stream, build_filter(shops=["acme"]))
    assert [r.offset for r, _ in by_shop] == [1, 2, 3, 5]


def test_json_lines_carry_the_position_time_key_and_value() -> None:
    line = json.loads(
        json_line(record(b"acme:c1", json.dumps(ORDER).encode()), Decoded(True, ORDER))
    )
    assert line == {
        "topic": SHOP_EVENTS.name,
        "partition": 3,
        "offset": 7,
        "timestamp": "2026-11-23T10:15:00.123Z",
        "key": "acme:c1",
        "value": ORDER,
    }
    assert list(line) == ["topic", "partition", "offset", "timestamp", "key", "value"]


def test_what_is_not_json_or_text_comes_as_base64() -> None:
    raw = b"\xff\x00 not text"
    line = json.loads(json_line(record(b"\xfe\xff", raw), decode_value(raw)))
    assert "key" not in line and "value" not in line
    assert base64.b64decode(line["key_base64"]) == b"\xfe\xff"
    assert base64.b64decode(line["value_base64"]) == raw
    assert (
        json.loads(json_line(record(None, b"plain text"), decode_value(b"plain text")))[
            "value_base64"
        ]
        == base64.b64encode(b"plain text").decode()
    )


def test_tombstones_and_records_without_a_time() -> None:
    tombstone = TailRecord(CUSTOMER_PROFILES.name, 0, 1, None, b"acme:c1", None)
    line = json.loads(json_line(tombstone, decode_value(None)))
    assert line["value"] is None and line["timestamp"] is None and line["key"] == "acme:c1"


def test_unicode_stays_readable() -> None:
    value = {"name": "Zoë ☕"}
    text = json_line(record(b"acme:c1", json.dumps(value).encode()), Decoded(True, value))
    assert "Zoë ☕" in text


def test_iso_timestamps_are_exact_to_the_millisecond() -> None:
    assert iso_timestamp(0) == "1970-01-01T00:00:00.000Z"
    assert iso_timestamp(1_700_000_000_123) == "2023-11-14T22:13:20.123Z"
    assert iso_timestamp(2**62) is None  # beyond any date
