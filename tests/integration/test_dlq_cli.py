"""`nudge dlq list|show|replay` on the real broker, with letters parked through the builder."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from confluent_kafka import Producer
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from typer.testing import CliRunner

from services.cli import app
from shared.dead_letters import Parked, dead_letter
from shared.limits import MAX_EVENT_BYTES
from shared.loop_producer import producer_config
from shared.settings import KafkaSettings
from shared.topics import SHOP_EVENTS, SHOP_EVENTS_DLQ
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture
def kafka(stack: Stack) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=stack.kafka_bootstrap)


@pytest.fixture
def nudge(stack: Stack) -> Iterator[CliRunner]:
    yield CliRunner(env={"KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap})


def publish(kafka: KafkaSettings, letters: list[Parked]) -> None:
    """Park `letters` as a service does: acks=all, every one acknowledged."""
    producer = Producer(producer_config(kafka, client_id="test", linger_ms=0, timeout_s=10))
    errors: list[object] = []
    for parked in letters:
        producer.produce(
            parked.topic, parked.value, parked.key, on_delivery=lambda e, _: errors.append(e)
        )
    assert producer.flush(15) == 0
    assert errors == [None] * len(letters)


class SourceWindow:
    """The raw records appended to a topic after this was made."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            max_partition_fetch_bytes=4 * MAX_EVENT_BYTES,
        )
        self._tps = [TopicPartition(topic, p) for p in self._consumer.partitions_for_topic(topic)]
        self._start = self._consumer.end_offsets(self._tps)

    def since_start(self, prefix: bytes = b"") -> list[tuple[bytes | None, bytes]]:
        """(key, value) of the records since, whose key starts with `prefix`."""
        end = self._consumer.end_offsets(self._tps)
        self._consumer.assign(self._tps)
        for tp in self._tps:
            self._consumer.seek(tp, self._start[tp])
        out: list[tuple[bytes | None, bytes]] = []
        remaining = {tp for tp in self._tps if end[tp] > self._start[tp]}
        while remaining:
            for tp, records in self._consumer.poll(timeout_ms=2000).items():
                out += [
                    (r.key, r.value)
                    for r in records
                    if r.offset < end[tp] and (r.key or b"").startswith(prefix)
                ]
                if self._consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        return out

    def close(self) -> None:
        self._consumer.close()


def groups_reading(admin: KafkaAdminClient, topic: str) -> dict[str, object]:
    """Every consumer group with a committed offset on `topic`."""
    names = [g["group_id"] if isinstance(g, dict) else g[0] for g in admin.list_groups()]
    found: dict[str, object] = {}
    for name in names:
        offsets = admin.list_group_offsets({name: None}).get(name, {})
        mine = {tp: o for tp, o in offsets.items() if tp.topic == topic}
        if mine:
            found[name] = mine
    return found


def listed(nudge: CliRunner, *args: str) -> list[dict[str, object]]:
    result = nudge.invoke(app, ["dlq", "list", *args, "--json"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_list_show_and_replay(stack: Stack, kafka: KafkaSettings, nudge: CliRunner) -> None:
    service = f"test-{uuid.uuid4().hex[:8]}"  # only this test's letters carry it
    good = json.dumps({"id": f"{service}-1", "type": "order.placed", "note": " kept "}).encode()
    binary = b"\xff\x00 not text"
    largest = b'"\\' * (MAX_EVENT_BYTES // 2)  # doubles when escaped as JSON text

    def park(key: bytes | None, value: bytes, offset: int, **extra: str) -> Parked:
        fields = {"source_topic": SHOP_EVENTS.name, **extra}
        return dead_letter(
            partition=1,
            offset=offset,
            key=key,
            value=value,
            service=service,
            reason="invalid record: data.total: Field required",
            **fields,  # type: ignore[arg-type]
        )

    letters = [
        park(f"{service}:c1".encode(), good, 10),
        park(f"{service}:c2".encode(), binary, 11),
        park(f"{service}:c3".encode(), largest, 12),
        park(f"{service}:c4".encode(), b"\xff" * (2 * MAX_EVENT_BYTES), 13),  # left out
        park(
            f"{service}:c5".encode(), good, 14, source_topic="orders.v1", topic=SHOP_EVENTS_DLQ.name
        ),
    ]
    admin = KafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    source = SourceWindow(stack.kafka_bootstrap, SHOP_EVENTS.name)
    try:
        groups_before = groups_reading(admin, SHOP_EVENTS_DLQ.name)
        publish(kafka, letters)

        # list: by the source topic's name too, filtered to this test's service
        mine = listed(nudge, SHOP_EVENTS.name, "--service", service)
        assert [m["key"] for m in mine] == [f"{service}:c{i}" for i in range(1, 6)]
        first = mine[0]
        assert first["letter"]["source_offset"] == 10  # type: ignore[index]
        assert listed(nudge, SHOP_EVENTS_DLQ.name, "--service", service, "--limit", "2") == mine[:2]
        assert (
            listed(nudge, SHOP_EVENTS_DLQ.name, "--service", service, "--since", "2099-01-01") == []
        )
        lines = nudge.invoke(app, ["dlq", "list", SHOP_EVENTS_DLQ.name, "--service", service])
        fields = lines.stdout.splitlines()[0].split()
        assert fields[0] == f"{first['partition']}:{first['offset']}"
        assert fields[2:6] == [service, "shop.events.v1[1]@10", f"{service}:c1", "invalid"]

        # show: the whole letter, the JSON payload pretty-printed
        position = f"{first['partition']}:{first['offset']}"
        shown = nudge.invoke(app, ["dlq", "show", SHOP_EVENTS_DLQ.name, position])
        assert shown.exit_code == 0, shown.output
        assert (
            f'"id": "{service}-1"' in shown.stdout and "data.total: Field required" in shown.stdout
        )
        missing = nudge.invoke(app, ["dlq", "show", SHOP_EVENTS_DLQ.name, "0:999999999"])
        assert missing.exit_code == 1 and "no record at 0:999999999" in missing.output

        # replay --dry-run publishes nothing
        dry = nudge.invoke(
            app, ["dlq", "replay", SHOP_EVENTS_DLQ.name, "--all", "--service", service, "--dry-run"]
        )
        assert "dry run: 3 of 5 letters would be replayed" in dry.stdout
        assert source.since_start(service.encode()) == []

        # replay: the original bytes, under the original keys; what cannot go says why
        done = nudge.invoke(app, ["dlq", "replay", SHOP_EVENTS.name, "--all", "--service", service])
        assert done.exit_code == 1, done.output  # two letters could not be replayed
        assert "replayed 3 of 5 letters" in done.stdout and "parked there again" in done.stdout
        assert "payload was left out" in done.stdout and "'orders.v1' is not one" in done.stdout
        assert sorted(source.since_start(service.encode())) == sorted(
            [
                (f"{service}:c1".encode(), good),
                (f"{service}:c2".encode(), binary),
                (f"{service}:c3".encode(), largest),
            ]
        )

        # by position: one letter, once more (the same id: consumers take it as seen)
        again = nudge.invoke(app, ["dlq", "replay", SHOP_EVENTS_DLQ.name, position])
        assert again.exit_code == 0, again.output
        assert source.since_start(service.encode()).count((f"{service}:c1".encode(), good)) == 2

        assert groups_reading(admin, SHOP_EVENTS_DLQ.name) == groups_before
    finally:
        source.close()
        admin.close()
