"""`nudge topics list` on the real broker: the declared catalog as the cluster has it, a
missing topic, one that differs from its declaration, and the rate."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from typer.testing import CliRunner

from services.analyst.topic_stats import inspect
from services.cli import app
from shared.settings import KafkaSettings
from shared.topics import ALL_TOPICS, SHOP_EVENTS, TopicSpec
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


def spec(name: str) -> TopicSpec:
    return TopicSpec(
        name=name,
        partitions=3,
        cleanup_policy="delete",
        retention_ms=86_400_000,
        key="k",
        description="d",
    )


def test_the_declared_topics_as_the_cluster_has_them(stack: Stack) -> None:
    nudge = CliRunner(env={"KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap})
    result = nudge.invoke(app, ["topics", "list", "--output", "json", "--sample", "0"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["topic"] for row in rows] == [t.name for t in ALL_TOPICS]
    for row, declared in zip(rows, ALL_TOPICS, strict=True):
        assert row["status"] == "ok", row
        assert row["partitions"] == row["declared_partitions"] == declared.partitions
        assert row["cleanup_policy"] == declared.cleanup_policy
        assert row["config_source"] == "broker"
        assert row["end_offsets"] >= 0 and row["records_per_s"] is None

    text = nudge.invoke(app, ["topics", "list", "--sample", "0"])
    assert text.exit_code == 0, text.output
    header, *lines = text.stdout.splitlines()
    assert header.split()[:4] == ["topic", "partitions", "cleanup", "retention"]
    events = next(line for line in lines if line.startswith(f"{SHOP_EVENTS.name} "))
    assert events.split()[1:4] == ["12", "delete", "30d"]


def test_missing_differing_and_the_rate(stack: Stack, admin: KafkaAdminClient) -> None:
    tag = uuid.uuid4().hex[:8]
    missing, differing = spec(f"test.missing.{tag}.v1"), spec(f"test.differs.{tag}.v1")
    admin.create_topics(
        {
            differing.name: {
                "num_partitions": 2,
                "replication_factor": 1,
                "configs": {**differing.config(), "retention.ms": "60000"},
            }
        }
    )
    producer = KafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all", linger_ms=0)

    def produce_while_sampling(seconds: float) -> None:
        for n in range(20):
            producer.send(differing.name, key=f"k{n}".encode(), value=b"{}")
        producer.flush()
        time.sleep(seconds)

    try:
        producer.send(differing.name, key=b"before", value=b"{}")
        producer.flush()
        absent, found = inspect(
            KafkaSettings(bootstrap_servers=stack.kafka_bootstrap),
            [missing, differing],
            sample_s=0.2,
            sleep=produce_while_sampling,
        )
    finally:
        producer.close()
        admin.delete_topics([differing.name])
    assert absent.status == "missing" and absent.end_offsets is None
    assert found.status == "differs"
    assert found.differences == (
        "partitions 2 (declared 3)",
        "retention.ms 60000 (declared 86400000)",
    )
    assert (found.partitions, found.retention_ms, found.config_source) == (2, 60000, "broker")
    assert found.end_offsets == 21
    assert found.rate_per_s is not None and found.rate_per_s > 0
