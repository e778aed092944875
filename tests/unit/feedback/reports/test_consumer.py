"""Reports' consumer over polls of real record bytes, with the in-memory store and directory:
every fact counted once whatever is replayed, each campaign found (the record's, the message's
`sent`, the directory's, else unattributed), bad records parked once, neighbours kept."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import date
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type hints
import orjson
import pytest
from aiokafka import ConsumerRecord

from services.feedback import index
from services.feedback.directory import ContactRef, SentMessage
from services.feedback.directory.memory import MemoryDirectory
from services.feedback.reports.consumer import TOPICS, Reporter
from services.feedback.reports.facts import Metric
from services.feedback.reports.store import Batch, MemoryReportStore
from shared.events.shop import Channel
from shared.polls import Record
from shared.topics import CONVERSIONS, FEEDBACK_EVENTS, MESSAGES_STATUS
from tests.support import report_records as r

SHOP = "acme"
DAY = date(2026, 11, 23)


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
        self.store = MemoryReportStore()
        self.directory = MemoryDirectory()
        self.parking = Parking()
        self.reporter = Reporter(None, self.parking, self.store, self.directory)
        self._offset = 0

    def record(self, topic: str, raw: bytes) -> Record:
        self._offset += 1
        return ConsumerRecord(topic, 0, self._offset, 0, 0, b"acme:c1", raw, None, 0, len(raw), ())

    def status(self, raw: bytes) -> Record:
        return self.record(MESSAGES_STATUS.name, raw)

    def feedback(self, raw: bytes) -> Record:
        return self.record(FEEDBACK_EVENTS.name, raw)

    async def poll(self, *records: Record) -> None:
        await self.reporter.handle(list(records))

    async def counts(self, shop: str = SHOP) -> dict[tuple[str, Metric], int]:
        stored = await self.store.read(shop, DAY, DAY)
        return {(c.campaign_id, c.metric): c.count for c in stored.counts}


async def test_a_poll_read_twice_counts_nothing_twice() -> None:
    h = Harness()
    poll = [
        h.status(r.status(SHOP, "message.sent", "m-1")),
        h.feedback(r.engagement(SHOP, "message.opened", "m-1", campaign="abandoned_cart")),
        h.feedback(r.engagement(SHOP, "message.clicked", "m-1", campaign="abandoned_cart")),
        h.record(CONVERSIONS.name, r.conversion(SHOP, "o-1", "m-1", "20.00")),
    ]
    await h.poll(*poll)
    first = await h.counts()
    await h.poll(*poll)
    assert (
        await h.counts()
        == first
        == {
            ("abandoned_cart", Metric.SENT): 1,
            ("abandoned_cart", Metric.DELIVERED): 1,
            ("abandoned_cart", Metric.OPENED): 1,
            ("abandoned_cart", Metric.CLICKED): 1,
            ("cross_sell", Metric.CONVERTED): 1,
        }
    )
    stored = await h.store.read(SHOP, DAY, DAY)
    assert [(e.currency, str(e.amount)) for e in stored.revenue] == [("EUR", "20.00")]


async def test_a_message_opened_five_times_is_opened_once() -> None:
    h = Harness()
    opens = [
        h.feedback(r.engagement(SHOP, "message.opened", "m-1", campaign="cart")) for _ in range(5)
    ]
    await h.poll(*opens[:3])
    await h.poll(*opens[3:])
    assert await h.counts() == {("cart", Metric.OPENED): 1}


async def test_an_open_without_a_campaign_takes_its_messages_from_the_same_poll() -> None:
    h = Harness()
    await h.poll(
        h.status(r.status(SHOP, "message.sent", "m-1", campaign="welcome")),
        h.feedback(r.engagement(SHOP, "message.opened", "m-1")),
    )
    assert (await h.counts())["welcome", Metric.OPENED] == 1


async def test_an_open_without_a_campaign_takes_its_messages_from_the_store() -> None:
    h = Harness()
    await h.poll(h.status(r.status(SHOP, "message.sent", "m-1", campaign="welcome")))
    await h.poll(h.feedback(r.engagement(SHOP, "message.clicked", "m-1")))
    assert (await h.counts())["welcome", Metric.CLICKED] == 1


async def test_else_the_directory_says_which_campaign_for_the_same_shop_only() -> None:
    h = Harness()
    for message_id, shop in (("m-ours", SHOP), ("m-theirs", "other-shop")):
        await h.directory.record(
            [],
            [
                SentMessage(
                    message_id=message_id,
                    ref=ContactRef(shop, "c1"),
                    channel=Channel.EMAIL,
                    trigger_id="t-1",
                    campaign_id="browse_abandonment",
                    transactional=False,
                    provider_id=None,
                    sent_at=r.AT,
                )
            ],
        )
    await h.poll(
        h.feedback(r.engagement(SHOP, "message.opened", "m-ours")),
        h.feedback(r.engagement(SHOP, "message.opened", "m-theirs")),
    )
    assert await h.counts() == {
        ("browse_abandonment", Metric.OPENED): 1,
        ("unattributed", Metric.OPENED): 1,
    }


async def test_what_names_no_message_is_unattributed() -> None:
    h = Harness()
    await h.poll(h.feedback(r.unsubscribed(SHOP, None)), h.feedback(r.reply(SHOP, None, [])))
    assert await h.counts() == {
        ("unattributed", Metric.UNSUBSCRIBED): 1,
        ("unattributed", Metric.REPLIED): 1,
    }


async def test_a_changed_survey_answer_counts_once_with_the_later_score() -> None:
    h = Harness()
    first = r.answered(SHOP, "m-1", "csat", 2, at=r.AT)
    later = r.answered(SHOP, "m-1", "csat", 5, at=r.AT.replace(hour=11))
    await h.poll(h.feedback(later))
    await h.poll(h.feedback(first))  # a replay, out of order
    stored = await h.store.read(SHOP, DAY, DAY)
    assert [(a.invitation, a.score) for a in stored.answers] == [("m-1", 5)]


async def test_a_conversion_that_does_not_parse_is_parked_here_and_its_neighbours_go_on() -> None:
    h = Harness()
    await h.poll(
        h.record(CONVERSIONS.name, b'{"type": "conversion.attributed", "data": 1}'),
        h.record(CONVERSIONS.name, b"not json"),
        h.record(CONVERSIONS.name, r.conversion(SHOP, "o-1", "m-1", "5")),
    )
    assert await h.counts() == {("cross_sell", Metric.CONVERTED): 1}
    assert [topic for topic, _ in h.parking.parked] == ["conversions.dlq.v1"] * 2
    assert all(letter["service"] == "feedback-reports" for _, letter in h.parking.parked)


async def test_status_and_feedback_records_that_do_not_parse_are_left_to_the_index() -> None:
    h = Harness()
    broken = b'{"type": "message.opened", "shopid": "acme", "data": {}}'
    await h.poll(
        h.feedback(broken), h.status(b"\xff"), h.status(r.status(SHOP, "message.failed", "m"))
    )
    assert h.parking.parked == []
    assert await h.counts() == {("abandoned_cart", Metric.FAILED): 1}


def test_the_index_reads_the_status_and_feedback_topics_so_it_parks_their_bad_records() -> None:
    assert set(TOPICS) - set(index.TOPICS) == {CONVERSIONS.name}


class RefusingStore(MemoryReportStore):
    """Refuses, as PostgreSQL would, any fact of one message."""

    async def record(self, batch: Batch) -> None:
        if any(f.subject == "m-refused" for f in batch.facts):
            raise asyncpg.StringDataRightTruncationError("value too long for type varchar(255)")
        await super().record(batch)


async def test_a_record_the_database_refuses_is_parked_and_its_neighbours_are_counted() -> None:
    h = Harness()
    h.reporter.store = h.store = RefusingStore()
    await h.poll(
        h.status(r.status(SHOP, "message.failed", "m-refused")),
        h.status(r.status(SHOP, "message.failed", "m-1")),
    )
    assert await h.counts() == {("abandoned_cart", Metric.FAILED): 1}
    [(topic, letter)] = h.parking.parked
    assert topic == "messages.status.dlq.v1"
    assert letter["reason"].startswith("cannot be stored")


class UnavailableStore(MemoryReportStore):
    async def record(self, batch: Batch) -> None:
        raise asyncpg.CannotConnectNowError("the database system is starting up")


async def test_an_outage_raises_so_the_poll_is_read_again() -> None:
    h = Harness()
    h.reporter.store = UnavailableStore()
    with pytest.raises(asyncpg.CannotConnectNowError):
        await h.poll(h.status(r.status(SHOP, "message.failed", "m-1")))
    assert h.parking.parked == []
