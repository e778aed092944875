"""`nudge tail` lines for what customers send back and for conversions."""

from __future__ import annotations

import json
from typing import Any

from services.record_summary import describe


def line(kind: str, data: dict[str, Any]) -> str:
    record = {"type": kind, "time": "2026-12-07T10:00:00Z", "data": data}
    return describe("feedback.events.v1", b"demo:c1", json.dumps(record).encode())


def test_clicks_say_where_and_who() -> None:
    click = {
        "channel": "email",
        "message": {"message_id": "m1", "campaign_id": "cross_sell"},
        "url": "https://shop.example/p/1",
    }
    assert "CLICKED email cross_sell -> https://shop.example/p/1 (a person)" in line(
        "message.clicked", click
    )
    scanner = {**click, "machine": True, "reason": "link_scanner"}
    assert "(machine: link_scanner)" in line("message.clicked", scanner)


def test_answers_opt_outs_categories_and_conversions() -> None:
    answer = {"survey": "nps", "score": 10, "order_id": "o-1", "tags": ["praise"]}
    assert "ANSWERED nps 10 about order o-1 (tags: praise)" in line("survey.answered", answer)
    stop = {"channel": "sms", "source": "sms_keyword"}
    assert "WITHDRAWN sms marketing (sms_keyword)" in line("consent.withdrawn", stop)
    dropped = {"category": "offers", "subscribed": False, "source": "preference_center"}
    assert "DROPPED category offers" in line("category.preference_changed", dropped)
    conversion = {
        "order_id": "o-2",
        "order_number": "#1002",
        "revenue": {"amount": "33.95", "currency": "EUR"},
        "message": {"message_id": "m1", "campaign_id": "cross_sell", "channel": "email"},
        "touch": "click",
        "touched_at": "2026-12-07T09:00:00Z",
        "model": "last_touch",
    }
    assert "CONVERTED order #1002 33.95 EUR credited to email cross_sell (click at" in line(
        "conversion.attributed", conversion
    )


def test_segment_entries_and_exits_say_which_and_why() -> None:
    change = {"segment_id": "vip", "rule_version": 1, "reason": "orders 3 >= 3", "entry": 1}
    assert "ENTERED segment vip: orders 3 >= 3" in line("segment.entered", change)
    assert "LEFT segment vip: orders 3 >= 3" in line("segment.exited", change)


def test_dead_letters_say_who_parked_what_and_why() -> None:
    letter = {
        "source_topic": "shop.events.v1",
        "source_partition": 4,
        "source_offset": 17,
        "key": "demo:c1",
        "service": "triggers",
        "reason": "invalid record: data.total: Field required",
        "payload": "{}",
        "payload_encoding": "utf-8",
        "parked_at": "2026-12-07T10:00:00Z",
    }
    text = describe("p0@3", b"demo:c1", json.dumps(letter).encode())
    assert text.startswith("p0@3 2026-12-07T10:00:00Z dead letter")
    assert (
        "PARKED by triggers from shop.events.v1 p4@17: invalid record: data.total: Field required"
    ) in text
