"""The broker goes away while dispatch is sending: sending goes on, and no status is lost.

Dispatch waits a bounded time for the broker to acknowledge the status records of a batch
before it commits the outcome; what is unacknowledged by then goes to the outbox in the same
transaction, and is published once the broker is back. Runs on a broker of its own
(tests/support/own_broker.py), stopped for longer than that wait while messages are sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from shared.topics import (
    CUSTOMER_PROFILES,
    FEEDBACK_EVENTS,
    MESSAGES_DLQ,
    MESSAGES_STATUS,
    SHOP_EVENTS,
    TRIGGERS_FIRED,
    dead_letter_topic,
)
from tests.support.dispatch_process import (
    BulkShop,
    DispatchProcess,
    MessageLog,
    Sinks,
    arrivals,
    daytime_zone,
    metric_value,
    private_database,
    wait_until,
)
from tests.support.kafka_records import TopicWindow
from tests.support.own_broker import fresh_broker, start_broker, stop_broker
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

TRIGGERS = 300
SENDS_PER_S = "20"
"""Slow enough that sending lasts through the outage."""
ACK_TIMEOUT_S = 2.0
CLAIM_BATCH = 20
"""Small batches: their statuses wait for the broker one after another during the outage."""
OUTAGE_S = 12.0


@pytest.fixture(scope="module")
def own_broker() -> Iterator[str]:
    consumed = (TRIGGERS_FIRED, SHOP_EVENTS, FEEDBACK_EVENTS, CUSTOMER_PROFILES)
    topics = [*consumed, MESSAGES_STATUS, MESSAGES_DLQ]
    parked = [dead_letter_topic(spec.name) for spec in consumed]
    with fresh_broker([*topics, *parked]) as bootstrap:
        yield bootstrap


def outbox_size(database: str) -> int:
    async def count() -> int:
        engine = create_async_engine(database, poolclass=NullPool)
        try:
            async with engine.connect() as conn:
                found: int = (
                    await conn.execute(text("SELECT count(*) FROM dispatch_outbox"))
                ).scalar_one()
                return found
        finally:
            await engine.dispose()

    return asyncio.run(count())


def arrived(sinks: Sinks) -> int:
    """Messages at the sinks (this test's own): what was sent, whatever the log says yet (a
    batch's outcomes are recorded after all its sends and the wait for the broker)."""
    return len(sinks.emails()["messages"]) + len(sinks.texts()["messages"])


def test_statuses_of_messages_sent_while_the_broker_is_down_are_published_after(
    stack: Stack, own_broker: str, logs_dir: Path
) -> None:
    database = private_database(stack.database_url, "nudge_test_dispatch_broker_outage")
    log = MessageLog(database)
    sinks = Sinks(logs_dir)
    shop = BulkShop(own_broker)
    statuses = TopicWindow(own_broker, MESSAGES_STATUS.name)
    dispatch = DispatchProcess(
        own_broker,
        database,
        sinks,
        logs_dir / "dispatch-broker-outage.log",
        email_per_s=SENDS_PER_S,
        sms_per_s=SENDS_PER_S,
        status_ack_timeout_s=str(ACK_TIMEOUT_S),
        claim_batch=str(CLAIM_BATCH),
    )
    sinks.start()
    dispatch.start()
    try:
        customers = shop.customers(TRIGGERS, sms_every=5, time_zone=daytime_zone())
        wait_until(lambda: log.contacts(shop.id) == TRIGGERS, 60, "contacts in PostgreSQL")
        planned = shop.triggers(customers)
        wait_until(lambda: sum(log.states(shop.id).values()) == TRIGGERS, 60, "triggers read")
        stop_broker()
        arrived_before = arrived(sinks)
        time.sleep(OUTAGE_S)
        sent_during = arrived(sinks) - arrived_before
        start_broker()
        wait_until(lambda: log.states(shop.id) == {"sent": TRIGGERS}, 120, "every message sent")
        wait_until(lambda: outbox_size(database) == 0, 60, "the outbox relayed")
        exposition = dispatch.metrics()
    finally:
        dispatch.stop()
        shop.close()
    seen = arrivals(sinks, planned)
    sinks.stop()
    on_topic = statuses.for_shop(shop.id)
    statuses.close()
    sent_statuses = {
        r.value["data"]["trigger_id"] for r in on_topic if r.value["data"]["status"] == "sent"
    }
    kept = metric_value(exposition, "nudge_dispatch_outbox_records_total", event="kept")
    relayed = metric_value(exposition, "nudge_dispatch_outbox_records_total", event="relayed")

    assert sent_during > 0, "sending stopped while the broker was away"
    assert seen.missing(planned) == [] and seen.duplicates == 0
    assert kept > 0, "no status record needed the outbox: the outage was not felt"
    assert relayed == kept
    assert sent_statuses == {p.trigger_id for p in planned}
