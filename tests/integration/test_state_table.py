"""The Faust state table against the one contract suite, on the real broker: its changelog
writes go through aiokafka's batch API, so what the changelog holds is checked too (it is
what Faust recovers a lost volume and its standby replicas from)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import faust
import pytest
from kafka import KafkaConsumer, TopicPartition

from shared.faust_runtime import broker_urls, raw_table
from shared.faust_setup import changelog_topics
from shared.kafka import create_topics
from shared.settings import KafkaSettings
from shared.state_table import Change, FaustStateTable, StateTable, changelog_producer
from shared.stream_batch import no_scope
from tests.support.stack import Stack
from tests.support.state_table_contract import StateTableContract

pytestmark = pytest.mark.integration


class TestFaustStateTable(StateTableContract):
    @pytest.fixture(autouse=True)
    async def _broker(self, stack: Stack) -> AsyncIterator[None]:
        self.kafka = KafkaSettings(bootstrap_servers=stack.kafka_bootstrap)
        self.opened: list[FaustStateTable] = []
        yield
        for table in self.opened:
            await table.stop()

    def table(self) -> StateTable:
        return self.faust_table()

    def faust_table(self) -> FaustStateTable:
        """A memory-store table (the store is Faust's concern; the writes are ours)."""
        app_id = f"test-state-table-{time.time_ns()}"
        app = faust.App(
            app_id,
            broker=broker_urls(self.kafka),
            store="memory://",
            autodiscover=False,
            web_enabled=False,
        )
        create_topics(self.kafka, changelog_topics(app_id, ["states"], self.PARTITIONS))
        table = FaustStateTable(
            raw_table(app, "states", self.PARTITIONS),
            lambda: changelog_producer(self.kafka),
            no_scope,
        )
        self.opened.append(table)
        return table

    async def test_the_changelog_holds_every_write_on_its_partition(self) -> None:
        table = self.faust_table()
        await table.write_all([Change(b"acme:c1", b"one", 1), Change(b"acme:c2", b"two", 2)])
        await table.write_all([Change(b"acme:c1", b"three", 1), Change(b"acme:c2", None, 2)])
        consumer = KafkaConsumer(**self.kafka.client_options(), enable_auto_commit=False)
        try:
            parts = [TopicPartition(table.changelog, p) for p in range(self.PARTITIONS)]
            consumer.assign(parts)
            consumer.seek_to_beginning(*parts)
            seen: list[tuple[int, bytes, bytes | None]] = []
            deadline = time.monotonic() + 20
            while len(seen) < 4 and time.monotonic() < deadline:
                for tp, records in consumer.poll(timeout_ms=1000).items():
                    seen += [(tp.partition, r.key, r.value) for r in records]
        finally:
            consumer.close()
        assert sorted(seen, key=lambda r: (r[0], r[1])) == [  # in offset order per key
            (1, b"acme:c1", b"one"),
            (1, b"acme:c1", b"three"),
            (2, b"acme:c2", b"two"),
            (2, b"acme:c2", None),
        ]
