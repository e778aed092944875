"""Opens and clicks reach the message log (the "no response" fallback reads them) only when a
person made them: a machine's (Apple's proxy, a link scanner) is not engagement."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from aiokafka import ConsumerRecord

from services.dispatch.intake import _effects
from shared.topics import FEEDBACK_EVENTS

MESSAGE = "6f1c2a8e-3b7d-4c55-9a0e-1d2f3a4b5c6d"
AT = datetime(2027, 3, 1, 12, tzinfo=UTC)


def engagement(kind: str, **data: object) -> ConsumerRecord[bytes, bytes]:
    value = orjson.dumps(
        {
            "specversion": "1.0",
            "id": "e-1",
            "source": "/shops/acme/feedback",
            "type": kind,
            "time": AT.isoformat(),
            "shopid": "acme",
            "customerid": "c1",
            "data": {"channel": "email", "message": {"message_id": MESSAGE}, **data},
        }
    )
    return ConsumerRecord(FEEDBACK_EVENTS.name, 0, 1, 0, 0, None, value, None, 0, len(value), ())


def test_a_persons_open_and_click_are_engagement() -> None:
    opened = _effects(engagement("message.opened"))
    clicked = _effects(engagement("message.clicked", url="https://acme.example"))
    assert opened is not None and opened.engagement == ("opened", MESSAGE, AT)
    assert clicked is not None and clicked.engagement == ("clicked", MESSAGE, AT)


def test_a_machines_open_or_click_is_not() -> None:
    for kind, reason in (
        ("message.opened", "apple_privacy_proxy"),
        ("message.clicked", "scanner"),
        ("message.clicked", "burst"),
    ):
        assert _effects(engagement(kind, machine=True, reason=reason)) is None


def test_a_click_whose_channel_the_index_did_not_know_still_counts() -> None:
    found = _effects(engagement("message.clicked", channel=None))
    assert found is not None and found.engagement == ("clicked", MESSAGE, AT)
