"""Dispatch's intake on the real broker and database: nothing poisons a poll, nothing accepted
is lost (issue 18).

A record PostgreSQL cannot store (a customer id with a NUL, produced straight onto the topic by
a producer that did not refuse it) is parked on its own topic's dead-letter topic with the
database's message, and the records before and after it in the same poll are stored. While the
database is unavailable nothing is committed past a record that is not stored, and everything
is stored once it is back. Dispatch runs as SREs run it, intake only (nothing is sent).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from services.dispatch.intake import TOPICS
from shared.kafka import pin_new_group_to_end
from shared.settings import KafkaSettings
from shared.topics import MESSAGES_STATUS, SHOP_EVENTS, TRIGGERS_FIRED, dead_letter_topic
from tests.support.database import run_sql
from tests.support.dispatch_process import (
    DispatchProcess,
    Sinks,
    metric_value,
    private_database,
    wait_until,
)
from tests.support.kafka_records import Record, TopicWindow
from tests.support.shops import unique_shop_id
from tests.support.stack import Stack
from tests.support.triggers import abandoned_cart_fired

pytestmark = pytest.mark.integration

BAD = "c\x00bad"
"""A customer id PostgreSQL text cannot hold (the models accept it; ingest refuses it)."""


class Topics:
    """Raw records onto dispatch's topics, as any producer could write them."""

    def __init__(self, bootstrap: str, shop: str) -> None:
        self.bootstrap = bootstrap
        self.shop = shop
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
        self.sent: dict[str, tuple[TopicPartition, int, bytes]] = {}
        """What each `name` was sent as: partition, offset, value."""

    def customer(self, customer: str, *, partition: int | None = None) -> None:
        value = orjson.dumps(
            {
                "specversion": "1.0",
                "id": f"{self.shop}-{customer.encode().hex()}-updated",
                "source": f"/shops/{self.shop}/test",
                "type": "customer.updated",
                "time": datetime.now(UTC).isoformat(),
                "shopid": self.shop,
                "customerid": customer,
                "data": {"email": "ada@example.com", "first_name": "Ada"},
            }
        )
        self._send(f"customer {customer}", SHOP_EVENTS.name, customer, value, partition)

    def trigger(self, customer: str, *, partition: int | None = None) -> str:
        fired = abandoned_cart_fired(self.shop, customer.replace("\x00", ""), "reminder-1")
        fired = fired.model_copy(update={"customerid": customer})  # unchecked, like the bytes
        value = fired.model_dump_json(exclude_none=True).encode()
        self._send(f"trigger {customer}", TRIGGERS_FIRED.name, customer, value, partition)
        return fired.id

    def _send(
        self, name: str, topic: str, customer: str, value: bytes, partition: int | None
    ) -> None:
        key = f"{self.shop}:{customer}".encode()
        sent = self.producer.send(topic, key=key, value=value, partition=partition).get(30)
        self.sent[name] = (TopicPartition(topic, sent.partition), sent.offset, value)

    def end_offsets(self) -> dict[TopicPartition, int]:
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap)
        try:
            partitions = [
                TopicPartition(topic, p)
                for topic in TOPICS
                for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            return dict(consumer.end_offsets(partitions))
        finally:
            consumer.close()

    def close(self) -> None:
        self.producer.close()


def committed(bootstrap: str, group: str, partitions: list[TopicPartition]) -> dict[Any, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        return {tp: consumer.committed(tp) or 0 for tp in partitions}
    finally:
        consumer.close()


def intake_only(stack: Stack, database_url: str, logs_dir: Path, name: str) -> DispatchProcess:
    return DispatchProcess(
        stack.kafka_bootstrap,
        database_url,
        Sinks(logs_dir),  # not started: an intake-only process sends nothing
        logs_dir / f"{name}.log",
        roles="intake",
    )


@pytest.fixture
def topics(stack: Stack) -> Iterator[Topics]:
    found = Topics(stack.kafka_bootstrap, unique_shop_id("intake"))
    yield found
    found.close()


@pytest.fixture
def windows(stack: Stack) -> Iterator[dict[str, TopicWindow]]:
    """What lands on the dead-letter topics and on messages.status.v1 during the test."""
    names = [dead_letter_topic(t).name for t in (SHOP_EVENTS.name, TRIGGERS_FIRED.name)]
    found = {n: TopicWindow(stack.kafka_bootstrap, n) for n in [*names, MESSAGES_STATUS.name]}
    yield found
    for window in found.values():
        window.close()


def letters(windows: dict[str, TopicWindow], source: str, shop: str) -> list[Record]:
    window = windows[dead_letter_topic(source).name]
    return [r for r in window.since_start() if r.key.startswith(f"{shop}:")]


def queued(windows: dict[str, TopicWindow], shop: str) -> list[str]:
    """The trigger ids announced `queued`, once per announcement."""
    records = windows[MESSAGES_STATUS.name].for_shop(shop)
    return [r.value["data"]["trigger_id"] for r in records if r.value["type"] == "message.queued"]


def test_a_record_that_cannot_be_stored_is_parked_and_its_neighbours_are_stored(
    stack: Stack, logs_dir: Path, topics: Topics, windows: dict[str, TopicWindow]
) -> None:
    database = private_database(stack.database_url, "nudge_intake_poison")
    dispatch = intake_only(stack, database, logs_dir, "dispatch-intake-poison")
    group = dispatch.env["NUDGE_DISPATCH_GROUP_ID"]
    kafka = KafkaSettings(bootstrap_servers=stack.kafka_bootstrap)
    assert pin_new_group_to_end(kafka, group, TOPICS)
    shop = topics.shop
    # One partition per topic, so that the bad record and its neighbours come in one poll,
    # read at once when dispatch starts.
    topics.customer("c1", partition=0)
    topics.customer("c2", partition=0)
    topics.customer(BAD, partition=0)
    topics.customer("c3", partition=0)
    good_triggers = {topics.trigger("c1", partition=0)}
    topics.trigger(BAD, partition=0)
    good_triggers.add(topics.trigger("c3", partition=0))
    topics.producer.flush()
    batch_end = topics.end_offsets()

    dispatch.start()
    try:

        def contacts() -> set[str]:
            sql = "SELECT customer_id FROM contacts WHERE shop_id = :shop"
            return {str(row[0]) for row in run_sql(database, sql, shop=shop)}

        def messages() -> set[str]:
            sql = "SELECT trigger_id FROM messages WHERE shop_id = :shop"
            return {str(row[0]) for row in run_sql(database, sql, shop=shop)}

        wait_until(lambda: contacts() == {"c1", "c2", "c3"}, 60, "the good customers stored")
        wait_until(lambda: messages() == good_triggers, 30, "the good triggers stored")
        wait_until(
            lambda: committed(stack.kafka_bootstrap, group, list(batch_end)) == batch_end,
            30,
            "the poll's offsets committed",
        )
        poisons = ((SHOP_EVENTS.name, f"customer {BAD}"), (TRIGGERS_FIRED.name, f"trigger {BAD}"))
        for source, name in poisons:
            parked = letters(windows, source, shop)
            assert len(parked) == 1, parked
            letter = parked[0].value
            tp, offset, value = topics.sent[name]
            assert (letter["source_topic"], letter["source_partition"]) == (source, tp.partition)
            assert letter["source_offset"] == offset
            assert letter["service"] == "dispatch"
            assert letter["reason"].startswith("cannot be stored: ")
            assert "0x00" in letter["reason"] and "SQLSTATE 22021" in letter["reason"]
            assert letter["payload"].encode() == value  # the record as it came, to replay
        assert sorted(queued(windows, shop)) == sorted(good_triggers)

        # A crash now, one more customer and trigger after the poison, and a restart: the
        # committed poll is neither read again (no second dead letter, no second `queued`)
        # nor lost.
        dispatch.kill()
        topics.customer("c4", partition=0)
        good_triggers.add(topics.trigger("c4", partition=0))
        topics.producer.flush()
        dispatch.start()
        wait_until(lambda: contacts() == {"c1", "c2", "c3", "c4"}, 60, "the customer after")
        wait_until(lambda: messages() == good_triggers, 30, "the trigger after")
        wait_until(
            lambda: sorted(queued(windows, shop)) == sorted(good_triggers), 30, "its `queued`"
        )
        assert len(letters(windows, SHOP_EVENTS.name, shop)) == 1
        assert len(letters(windows, TRIGGERS_FIRED.name, shop)) == 1
    finally:
        dispatch.stop()


def test_while_the_database_is_away_nothing_is_committed_and_everything_is_stored_after(
    stack: Stack, logs_dir: Path, topics: Topics, windows: dict[str, TopicWindow]
) -> None:
    name = "nudge_intake_outage"
    database = private_database(stack.database_url, name)
    dispatch = intake_only(stack, database, logs_dir, "dispatch-intake-outage")
    group = dispatch.env["NUDGE_DISPATCH_GROUP_ID"]
    shop = topics.shop
    dispatch.start()
    try:
        before = topics.end_offsets()
        # Away: no new connection is accepted, and the open ones are cut.
        run_sql(stack.database_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        run_sql(
            stack.database_url,
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name",
            name=name,
        )
        customers = [f"c{n}" for n in range(1, 6)]
        for customer in customers:
            topics.customer(customer)
        triggers = {topics.trigger(customer) for customer in customers[:3]}
        topics.producer.flush()
        after = topics.end_offsets()
        touched = [tp for tp in after if after[tp] > before[tp]]

        def given_back() -> float:
            return metric_value(dispatch.metrics(), "nudge_dispatch_intake_polls_given_back_total")

        wait_until(lambda: given_back() >= 3, 60, "intake to meet the outage three times")
        assert committed(stack.kafka_bootstrap, group, touched) == {
            tp: before[tp] for tp in touched
        }

        run_sql(stack.database_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')

        def stored() -> bool:
            sql = (
                "SELECT (SELECT count(*) FROM contacts WHERE shop_id = :shop),"
                " (SELECT count(*) FROM messages WHERE shop_id = :shop)"
            )
            return tuple(run_sql(database, sql, shop=shop)[0]) == (len(customers), len(triggers))

        wait_until(stored, 60, "everything stored once the database is back")
        done = {tp: after[tp] for tp in touched}
        wait_until(
            lambda: committed(stack.kafka_bootstrap, group, touched) == done,
            30,
            "the offsets committed",
        )
        assert sorted(queued(windows, shop)) == sorted(triggers)
        assert letters(windows, SHOP_EVENTS.name, shop) == []  # an outage is no record's fault
        assert letters(windows, TRIGGERS_FIRED.name, shop) == []
    finally:
        dispatch.stop()
        run_sql(stack.database_url, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
