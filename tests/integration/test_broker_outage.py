"""The broker goes away while requests arrive: 503 in bounded time, then recovery by itself.

Runs its own broker instance (tests/support/own_broker.py), so that stopping it cannot
disturb the rest of the suite.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition

from shared.topics import SHOP_EVENTS
from tests.support.ingest_process import running_ingest
from tests.support.own_broker import fresh_broker, start_broker, stop_broker
from tests.support.payloads import order_placed
from tests.support.shops import add_shop
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

PUBLISH_TIMEOUT_S = 2.0


@pytest.fixture(scope="module")
def second_broker() -> Iterator[str]:
    with fresh_broker([SHOP_EVENTS]) as bootstrap:
        yield bootstrap


@dataclass
class Traffic:
    """Requests sent one after another, each with fresh event ids, and what they got."""

    base: str
    key: str
    acknowledged: list[str] = field(default_factory=list)
    statuses: list[tuple[float, int, float, str | None]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                events = [order_placed(f"c-{uuid.uuid4().hex[:6]}") for _ in range(5)]
                started = time.monotonic()
                response = client.post(
                    f"{self.base}/v1/events",
                    json={"events": events},
                    headers={"Authorization": f"Bearer {self.key}"},
                )
                elapsed = time.monotonic() - started
                self.statuses.append(
                    (started, response.status_code, elapsed, response.headers.get("Retry-After"))
                )
                if response.status_code == 200:
                    self.acknowledged.extend(e["id"] for e in events)
                time.sleep(0.05)


def all_event_ids(bootstrap: str) -> set[str]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(SHOP_EVENTS.name, p)
            for p in consumer.partitions_for_topic(SHOP_EVENTS.name) or set()
        ]
        end = consumer.end_offsets(partitions)
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ids: set[str] = set()
        while any(consumer.position(tp) < end[tp] for tp in partitions):
            for records in consumer.poll(timeout_ms=2000).values():
                ids.update(json.loads(r.value)["id"] for r in records)
        return ids
    finally:
        consumer.close()


def wait_for(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_outage_answers_503_then_recovers_without_losing_acknowledged_events(
    stack: Stack, second_broker: str, logs_dir: Path
) -> None:
    shop = add_shop(stack.database_url)
    with running_ingest(
        second_broker,
        stack.database_url,
        logs_dir / "ingest-outage.log",
        publish_timeout_s=str(PUBLISH_TIMEOUT_S),
    ) as base:
        traffic = Traffic(base, shop.api_key.get_secret_value())
        sender = threading.Thread(target=traffic.run, daemon=True)
        sender.start()
        try:
            wait_for(lambda: len(traffic.acknowledged) >= 50, 30, "traffic before the outage")
            stop_broker()
            stopped_at = time.monotonic()
            wait_for(
                lambda: sum(1 for s in traffic.statuses if s[0] > stopped_at and s[1] == 503) >= 3,
                60,
                "503 answers during the outage",
            )
            start_broker()
            restarted_at = time.monotonic()
            wait_for(
                lambda: any(s[0] > restarted_at and s[1] == 200 for s in traffic.statuses),
                90,
                "recovery after the broker came back",
            )
            wait_for(lambda: len(traffic.acknowledged) >= 50 + 25, 30, "traffic after recovery")
        finally:
            traffic.stop.set()
            sender.join(timeout=40)

    during = [s for s in traffic.statuses if stopped_at < s[0] < restarted_at]
    assert {s[1] for s in during} <= {200, 503}, during
    refused = [s for s in during if s[1] == 503]
    assert refused, "no request was refused while the broker was down"
    for _, _, elapsed, retry_after in refused:
        assert elapsed < PUBLISH_TIMEOUT_S + 3, f"503 took {elapsed:.1f}s: the request hung"
        assert retry_after is not None and int(retry_after) >= 1
    missing = set(traffic.acknowledged) - all_event_ids(second_broker)
    assert missing == set(), f"{len(missing)} acknowledged events are not on the topic"
