"""`nudge topics create` on the real broker: existing topics get their declared settings back,
partition counts are reported and never changed."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from shared.kafka import ConfigChange, create_topics
from shared.settings import KafkaSettings
from shared.topics import DEAD_LETTER_TOPICS, FEEDBACK_EVENTS, TopicSpec
from tests.support.ingest_process import ROOT, service_env
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


def settings_of(admin: KafkaAdminClient, topic: str, *names: str) -> dict[str, str]:
    found = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic, list(names))], config_filter="all"
    )["topic"][topic]
    return {name: entry["value"] for name, entry in found.items()}


def test_an_existing_topic_gets_its_declared_settings_and_keeps_its_partitions(
    stack: Stack, admin: KafkaAdminClient
) -> None:
    spec = TopicSpec(
        name=f"test.stale.{uuid.uuid4().hex[:8]}.v1",
        partitions=3,
        cleanup_policy="delete",
        retention_ms=86_400_000,
        key="k",
        description="d",
        extra_config={"min.insync.replicas": "1"},
    )
    stale = {"max.message.bytes": "1000", "retention.ms": "60000", "segment.ms": "3600000"}
    admin.create_topics(
        {spec.name: {"num_partitions": 2, "replication_factor": 1, "configs": stale}}
    )
    try:
        (outcome,) = create_topics(KafkaSettings(bootstrap_servers=stack.kafka_bootstrap), [spec])

        assert not outcome.created and outcome.error is None
        assert set(outcome.changes) == {
            ConfigChange("max.message.bytes", "1000", str(spec.max_message_bytes)),
            ConfigChange("retention.ms", "60000", "86400000"),
        }
        assert outcome.mismatch is not None and "2 partitions on the broker, 3 declared" in (
            outcome.mismatch
        )
        now = settings_of(admin, spec.name, *spec.config(), "segment.ms")
        assert {k: now[k] for k in spec.config()} == spec.config()
        assert now["segment.ms"] == "3600000"  # not declared: left as it was
        (described,) = admin.describe_topics([spec.name])
        assert len(described["partitions"]) == 2  # never changed

        (again,) = create_topics(KafkaSettings(bootstrap_servers=stack.kafka_bootstrap), [spec])
        assert again.changes == ()  # in line now: nothing to do
    finally:
        admin.delete_topics([spec.name])


def test_the_command_reports_what_it_changed(stack: Stack, admin: KafkaAdminClient) -> None:
    topic = DEAD_LETTER_TOPICS[FEEDBACK_EVENTS.name]
    admin.alter_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic.name, {"max.message.bytes": "2048"})]
    )
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "topics", "create"],
        cwd=ROOT,
        env=service_env(stack.kafka_bootstrap, stack.database_url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    updated = lines.index(f"updated  {topic.name} (3 partitions)")
    assert lines[updated + 1].split() == [
        "max.message.bytes:",
        "2048",
        "->",
        str(topic.max_message_bytes),
    ]
    assert settings_of(admin, topic.name, "max.message.bytes") == {
        "max.message.bytes": str(topic.max_message_bytes)
    }
