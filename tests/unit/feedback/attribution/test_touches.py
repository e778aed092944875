"""What counts as a touch (delivery per channel, human opens and clicks) and as an order."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson

from services.feedback.attribution.touches import MessageInfo, Order, Touch, read_event
from shared.events import parse_feedback_event, parse_message_event, parse_shop_event
from shared.events.conversions import TouchKind
from shared.events.shop import Channel
from shared.events.types import Money

AT = "2026-11-23T10:00:00Z"
WHEN = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def envelope(kind: str, data: dict[str, Any], **extra: Any) -> bytes:
    event = {
        "id": f"e-{kind}",
        "source": "/t",
        "type": kind,
        "time": AT,
        "shopid": "acme",
        "customerid": "c1",
        "data": data,
    }
    return orjson.dumps({**event, **extra})


def status(kind: str, channel: str, **data: Any) -> bytes:
    update = {
        "message_id": "m-1",
        "trigger_id": "t-1",
        "campaign_id": "cross_sell",
        "channel": channel,
        "transactional": False,
        **data,
    }
    if kind in ("message.sent", "message.queued"):
        update |= {"step_id": "s-1", "status": kind.removeprefix("message.")}
    return envelope(kind, update)


def delivered(status_word: str = "delivered") -> bytes:
    return status(
        f"message.{status_word}",
        "sms",
        status=status_word,
        provider_id="SM1",
        provider_status=status_word,
    )


def engagement(kind: str, **data: Any) -> bytes:
    return envelope(kind, {"channel": "email", "message": {"message_id": "m-1"}, **data})


def test_an_email_is_delivered_when_the_smtp_server_took_it() -> None:
    found = read_event(parse_message_event(status("message.sent", "email")))
    info = MessageInfo("m-1", Channel.EMAIL, "cross_sell", "t-1", transactional=False)
    assert found == Touch(
        "acme", "c1", "e-message.sent", "m-1", TouchKind.DELIVERY, WHEN, Channel.EMAIL, info
    )


def test_an_sms_is_delivered_when_the_provider_says_so_not_when_it_took_it() -> None:
    assert read_event(parse_message_event(status("message.sent", "sms"))) is None
    found = read_event(parse_message_event(delivered()))
    assert isinstance(found, Touch) and found.kind is TouchKind.DELIVERY
    assert found.message == MessageInfo("m-1", Channel.SMS, "cross_sell", "t-1", False)
    assert read_event(parse_message_event(delivered("undelivered"))) is None


def test_other_statuses_are_no_touch() -> None:
    assert read_event(parse_message_event(status("message.queued", "email"))) is None


def test_human_opens_and_clicks_are_touches_that_name_only_the_message() -> None:
    opened = read_event(parse_feedback_event(engagement("message.opened")))
    clicked = read_event(parse_feedback_event(engagement("message.clicked", channel=None)))
    assert isinstance(opened, Touch) and isinstance(clicked, Touch)
    assert (opened.kind, opened.message_id, opened.message) == (TouchKind.OPEN, "m-1", None)
    assert (clicked.kind, clicked.channel) == (TouchKind.CLICK, None)


def test_machine_opens_and_clicks_are_never_touches() -> None:
    for kind in ("message.opened", "message.clicked"):
        machine = engagement(kind, machine=True)
        assert read_event(parse_feedback_event(machine)) is None


def test_an_engagement_without_its_message_is_no_touch() -> None:
    nameless = envelope("message.clicked", {"channel": "email", "message": {}})
    assert read_event(parse_feedback_event(nameless)) is None


def test_an_order_of_a_known_customer_is_read_with_its_total() -> None:
    order = {
        "order_id": 5830165512483,
        "order_number": "#1001",
        "items": [{"product_id": "p1", "quantity": 1, "price": {"amount": "1", "currency": "EUR"}}],
        "total": {"amount": "33.950", "currency": "EUR"},
    }
    found = read_event(parse_shop_event(envelope("order.placed", order)))
    assert found == Order(
        "acme",
        "c1",
        "5830165512483",
        "#1001",
        WHEN,
        Money(amount=Decimal("33.95"), currency="EUR"),
        "e-order.placed",
    )
    anonymous = envelope("order.placed", order, customerid=None, anonymousid="v1")
    assert read_event(parse_shop_event(anonymous)) is None


def test_every_other_event_is_nothing_to_attribution() -> None:
    customer = envelope("customer.created", {"email": "ada@example.com"})
    assert read_event(parse_shop_event(customer)) is None
