"""The triggers worker and a poison record on the real broker (issue 18).

The poison is a record the worker cannot decide on whose dead letter is twice its size: about a
megabyte of escaped quotes, which the dead letter escapes once more. Parking it must neither
fail nor hold up the customers before and after it on the same partition (their welcome steps
fire), and a restart must neither park it again nor fire their steps again, nor lose the
customer who comes after the restart.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaProducer
from kafka.partitioner.default import murmur2

from shared.limits import PRODUCER_MAX_REQUEST_BYTES
from shared.topics import SHOP_EVENTS, TRIGGERS_FIRED, dead_letter_topic
from tests.support.faust_process import TriggersProcess
from tests.support.kafka_records import Record, TopicWindow
from tests.support.shop_stream import ShopStream, wait_for
from tests.support.shops import unique_shop_id
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

POISON = b'{"type": "order.placed", "note": "' + b'\\"' * 500_000 + b'"}'
"""Valid JSON that is no event: about 1 MB, and its dead letter about 2 MB."""


def partition_of(key: str) -> int:
    """Where the Java client's partitioner (and ingest's) puts a key on shop.events.v1."""
    return int((murmur2(key.encode()) & 0x7FFFFFFF) % SHOP_EVENTS.partitions)


def neighbours(shop: str, count: int) -> list[str]:
    """`count` customers of `shop` whose records share one partition."""
    first = "n0"
    wanted = partition_of(f"{shop}:{first}")
    found = [first]
    for n in itertools.count(1):
        if len(found) == count:
            return found
        if partition_of(f"{shop}:n{n}") == wanted:
            found.append(f"n{n}")
    raise AssertionError("unreachable")


def welcomes(records: list[Record]) -> list[str]:
    """The customers a welcome step fired for, once per record."""
    return [
        r.key.split(":", 1)[1]
        for r in records
        if r.value["type"] == "trigger.fired" and r.value["data"]["step_id"] == "welcome"
    ]


@pytest.fixture
def worker(stack: Stack, logs_dir: Path, tmp_path: Path) -> Iterator[TriggersProcess]:
    process = TriggersProcess(
        stack.kafka_bootstrap,
        tmp_path / "data",
        logs_dir / "triggers-poison.log",
        app_id=f"test-triggers-poison-{time.time_ns()}",
        time_scale=1.0,  # the welcome step is due at once, the next ones a day later
        clock_origin=time.time(),
    )
    process.start()
    yield process
    process.stop()


def test_a_poison_record_is_parked_and_its_neighbours_fire_across_a_restart(
    stack: Stack, worker: TriggersProcess
) -> None:
    shop = unique_shop_id("poison")
    stream = ShopStream(stack.kafka_bootstrap, shop)
    raw = KafkaProducer(
        bootstrap_servers=stack.kafka_bootstrap,
        acks="all",
        max_request_size=PRODUCER_MAX_REQUEST_BYTES,
    )
    triggers = TopicWindow(stack.kafka_bootstrap, TRIGGERS_FIRED.name)
    parked = TopicWindow(stack.kafka_bootstrap, dead_letter_topic(SHOP_EVENTS.name).name)
    try:
        before, after, later = neighbours(shop, 3)
        poison_key = f"{shop}:{before}"
        stream.customer_created(before, datetime.now(UTC))
        sent = raw.send(SHOP_EVENTS.name, key=poison_key.encode(), value=POISON).get(30)
        stream.customer_created(after, datetime.now(UTC))
        assert sent.partition == partition_of(f"{shop}:{after}")

        wait_for(triggers, shop, lambda rs: sorted(welcomes(rs)) == sorted([before, after]), 60)
        letters = [r for r in parked.since_start() if r.key == poison_key]
        assert len(letters) == 1
        letter = letters[0].value
        assert letter["service"] == "triggers"
        assert (letter["source_topic"], letter["source_offset"]) == (SHOP_EVENTS.name, sent.offset)
        assert letter["reason"].startswith("invalid record")
        assert letter["payload"].encode() == POISON  # whole, as it came: it can be replayed

        # Everything so far committed, a restart, and one more customer on that partition.
        worker.wait_caught_up()
        worker.stop()
        stream.customer_created(later, datetime.now(UTC))
        worker.start()

        records = wait_for(triggers, shop, lambda rs: later in welcomes(rs), 90)
        assert sorted(welcomes(records)) == sorted([before, after, later])  # none fired twice
        assert len([r for r in parked.since_start() if r.key == poison_key]) == 1
    finally:
        stream.close()
        raw.close()
        triggers.close()
        parked.close()
