"""Attribution's consumer over polls of real record bytes, with the in-memory store, a
recording publisher and the in-memory directory: one conversion per order, published once
stored, said again (and only then) when it was not acknowledged; bad records parked."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import orjson
import pytest
from aiokafka import ConsumerRecord

from services.feedback import index
from services.feedback.attribution.consumer import TOPICS, Attributor
from services.feedback.attribution.parts import AttributionParts
from services.feedback.attribution.store import MemoryTouchStore, TouchLimits
from services.feedback.attribution.touches import Touch
from services.feedback.directory import ContactRef, SentMessage
from services.feedback.directory.memory import MemoryDirectory
from shared.events.conversions import ConversionAttributedEvent, TouchKind, conversion_event_id
from shared.events.shop import Channel
from shared.publisher import BrokerUnavailable
from shared.topics import CONVERSIONS, FEEDBACK_EVENTS, MESSAGES_STATUS, SHOP_EVENTS
from tests.support.clocks import PinnedClock
from tests.support.feedback_process import RecordingPublisher

ORDERED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
Poll = list[ConsumerRecord[bytes, bytes]]


class Parking:
    """Keeps the dead letters (acknowledged at once)."""

    def __init__(self) -> None:
        self.parked: list[tuple[str, dict[str, Any]]] = []

    def delivery(self, topic: str, value: bytes, key: str | bytes | None) -> Awaitable[None]:
        self.parked.append((topic, orjson.loads(value)))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class Harness:
    def __init__(self) -> None:
        self.publisher = RecordingPublisher()
        self.parking = Parking()
        self.directory = MemoryDirectory()
        self.attributor = Attributor(
            None,
            self.parking,
            self.publisher,
            AttributionParts.in_memory(),
            self.directory,
            PinnedClock(ORDERED_AT),
        )
        self._offset = 0

    def record(self, topic: str, value: bytes | dict[str, Any]) -> ConsumerRecord[bytes, bytes]:
        raw = value if isinstance(value, bytes) else orjson.dumps(value)
        self._offset += 1
        return ConsumerRecord(topic, 0, self._offset, 0, 0, b"acme:c1", raw, None, 0, len(raw), ())

    async def poll(self, *records: ConsumerRecord[bytes, bytes]) -> None:
        await self.attributor.handle(list(records))

    @property
    def conversions(self) -> list[ConversionAttributedEvent]:
        published = self.publisher.on(CONVERSIONS.name)
        assert all(isinstance(e, ConversionAttributedEvent) for e in published)
        return published  # type: ignore[return-value]


def envelope(kind: str, at: datetime, data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"e-{kind}-{at.isoformat()}",
        "source": "/t",
        "type": kind,
        "time": at.isoformat(),
        "shopid": "acme",
        "customerid": "c1",
        "data": data,
        **extra,
    }


def sent(before: timedelta, message_id: str = "m-1", **data: Any) -> dict[str, Any]:
    update = {
        "message_id": message_id,
        "trigger_id": "t-1",
        "campaign_id": "cross_sell",
        "step_id": "s-1",
        "channel": "email",
        "transactional": False,
        "status": "sent",
        **data,
    }
    return envelope("message.sent", ORDERED_AT - before, update, id=f"sent-{message_id}")


def clicked(before: timedelta, message_id: str = "m-1", **data: Any) -> dict[str, Any]:
    engagement = {"channel": "email", "message": {"message_id": message_id}, **data}
    return envelope("message.clicked", ORDERED_AT - before, engagement)


def order(order_id: str = "o-1", **extra: Any) -> dict[str, Any]:
    data = {
        "order_id": order_id,
        "items": [{"product_id": "p", "quantity": 1, "price": {"amount": "12", "currency": "EUR"}}],
        "total": {"amount": "33.95", "currency": "EUR"},
    }
    return envelope("order.placed", ORDERED_AT, data, **{"id": f"order-{order_id}", **extra})


async def test_a_click_then_an_order_becomes_one_conversion_with_its_message_and_revenue() -> None:
    h = Harness()
    await h.poll(
        h.record(MESSAGES_STATUS.name, sent(timedelta(days=2))),
        h.record(FEEDBACK_EVENTS.name, clicked(timedelta(days=1))),
    )
    await h.poll(h.record(SHOP_EVENTS.name, order()))
    [conversion] = h.conversions
    assert conversion.id == conversion_event_id("acme", "o-1")
    assert conversion.key == "acme:c1"
    data = conversion.data
    assert (data.order_id, str(data.revenue.amount), data.revenue.currency) == (
        "o-1",
        "33.95",
        "EUR",
    )
    assert (data.message.message_id, data.message.campaign_id) == ("m-1", "cross_sell")
    assert (data.message.trigger_id, data.message.channel) == ("t-1", Channel.EMAIL)
    assert (data.touch, data.touched_at) == (TouchKind.CLICK, ORDERED_AT - timedelta(days=1))
    assert data.order_event_id == "order-o-1"
    assert h.parking.parked == []


async def test_touches_in_the_same_poll_as_the_order_count() -> None:
    h = Harness()
    await h.poll(
        h.record(SHOP_EVENTS.name, order()),
        h.record(FEEDBACK_EVENTS.name, clicked(timedelta(hours=1))),
        h.record(MESSAGES_STATUS.name, sent(timedelta(hours=2))),
    )
    [conversion] = h.conversions
    assert conversion.data.touch is TouchKind.CLICK


async def test_an_order_replayed_is_converted_once() -> None:
    h = Harness()
    await h.poll(h.record(MESSAGES_STATUS.name, sent(timedelta(hours=2))))
    await h.poll(h.record(SHOP_EVENTS.name, order()), h.record(SHOP_EVENTS.name, order()))
    # Said again later, after a newer click, and under another event id (orders/paid after
    # orders/create): the order keeps its conversion; nothing is published again.
    await h.poll(
        h.record(FEEDBACK_EVENTS.name, clicked(timedelta(minutes=5))),
        h.record(SHOP_EVENTS.name, order(id="order-o-1-paid")),
    )
    [conversion] = h.conversions
    assert conversion.data.touch is TouchKind.DELIVERY


async def test_a_conversion_the_broker_did_not_take_is_published_when_the_poll_is_read_again() -> (
    None
):
    h = Harness()
    touch = h.record(MESSAGES_STATUS.name, sent(timedelta(hours=2)))
    placed = h.record(SHOP_EVENTS.name, order())
    h.publisher.failure = BrokerUnavailable("kafka did not acknowledge")
    with pytest.raises(BrokerUnavailable):
        await h.poll(touch, placed)
    assert h.conversions == []
    h.publisher.failure = None
    await h.poll(touch, placed)  # the poll given back, read again
    await h.poll(placed)  # and once more: published already
    [conversion] = h.conversions
    assert conversion.id == conversion_event_id("acme", "o-1")


async def test_an_order_without_a_qualifying_touch_is_not_converted() -> None:
    h = Harness()
    await h.poll(
        h.record(MESSAGES_STATUS.name, sent(timedelta(days=1, microseconds=1), "m-old")),
        h.record(MESSAGES_STATUS.name, sent(timedelta(hours=1), "m-receipt", transactional=True)),
        h.record(FEEDBACK_EVENTS.name, clicked(timedelta(hours=1), "m-1", machine=True)),
        h.record(MESSAGES_STATUS.name, sent(-timedelta(minutes=1), "m-after")),
    )
    await h.poll(h.record(SHOP_EVENTS.name, order()))
    assert h.conversions == []


async def test_another_shops_order_is_never_credited() -> None:
    h = Harness()
    await h.poll(h.record(MESSAGES_STATUS.name, sent(timedelta(hours=2))))
    await h.poll(h.record(SHOP_EVENTS.name, order(shopid="other-shop")))
    assert h.conversions == []


async def test_a_click_on_a_message_the_directory_knows_is_credited() -> None:
    h = Harness()
    message = SentMessage(
        message_id="m-sms",
        ref=ContactRef("acme", "c1"),
        channel=Channel.SMS,
        trigger_id="t-9",
        campaign_id="win_back",
        transactional=False,
        provider_id="SM9",
        sent_at=ORDERED_AT - timedelta(days=3),
    )
    stranger = dataclasses.replace(message, message_id="m-stranger", ref=ContactRef("acme", "c2"))
    await h.directory.record([], [message, stranger])
    await h.poll(
        h.record(FEEDBACK_EVENTS.name, clicked(timedelta(hours=3), "m-sms", channel=None)),
        h.record(FEEDBACK_EVENTS.name, clicked(timedelta(hours=1), "m-stranger")),
    )
    await h.poll(h.record(SHOP_EVENTS.name, order()))
    [conversion] = h.conversions
    assert conversion.data.message.model_dump() == {
        "message_id": "m-sms",
        "campaign_id": "win_back",
        "trigger_id": "t-9",
        "channel": Channel.SMS,
    }


async def test_records_that_do_not_parse_are_left_to_the_index_and_their_neighbours_go_on() -> None:
    h = Harness()
    broken_order = order()
    broken_order["data"]["total"] = {"amount": "lots", "currency": "EUR"}
    await h.poll(
        h.record(SHOP_EVENTS.name, b"{not json"),
        h.record(SHOP_EVENTS.name, b"[]"),
        h.record(SHOP_EVENTS.name, broken_order),
        h.record(SHOP_EVENTS.name, {"type": "customer.created", "data": "not read here"}),
        h.record(MESSAGES_STATUS.name, sent(timedelta(hours=2))),
        h.record(SHOP_EVENTS.name, order("o-2")),
    )
    assert [c.data.order_id for c in h.conversions] == ["o-2"]
    assert h.parking.parked == []  # one dead letter per bad record: the index's


class RefusingStore(MemoryTouchStore):
    """Refuses, as PostgreSQL would, any touch of one message."""

    async def record(self, touches: Sequence[Touch]) -> None:
        if any(t.message_id == "m-refused" for t in touches):
            raise asyncpg.StringDataRightTruncationError("value too long for type varchar(255)")
        await super().record(touches)


async def test_a_touch_the_database_refuses_is_parked_and_its_neighbours_are_kept() -> None:
    h = Harness()
    h.attributor.store = RefusingStore(TouchLimits(keep=timedelta(days=7)))
    await h.poll(
        h.record(MESSAGES_STATUS.name, sent(timedelta(hours=3), "m-refused")),
        h.record(MESSAGES_STATUS.name, sent(timedelta(hours=2))),
        h.record(SHOP_EVENTS.name, order()),
    )
    [conversion] = h.conversions
    assert conversion.data.message.message_id == "m-1"
    [(topic, letter)] = h.parking.parked
    assert topic == "messages.status.dlq.v1"
    assert letter["service"] == "feedback-attribution"
    assert letter["reason"].startswith("cannot be stored")


def test_the_index_reads_every_topic_attribution_reads_so_it_parks_their_bad_records() -> None:
    assert set(TOPICS) <= set(index.TOPICS)


async def test_a_record_of_another_topic_is_ignored_whatever_its_type() -> None:
    h = Harness()
    await h.poll(h.record("triggers.fired.v1", order()))
    assert h.conversions == [] and h.parking.parked == []
