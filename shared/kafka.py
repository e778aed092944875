"""Kafka helpers every service uses: topic creation, the producer, a tailing consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from shared.limits import CONSUMER_MAX_PARTITION_FETCH_BYTES
from shared.settings import KafkaSettings
from shared.topics import ALL_TOPICS, TopicSpec


def consumer_fetch_options() -> dict[str, int]:
    """Fetch sizes for an aiokafka or kafka-python consumer (one spelling): a record of the
    largest size any topic takes is fetched whole (shared/limits.py)."""
    return {"max_partition_fetch_bytes": CONSUMER_MAX_PARTITION_FETCH_BYTES}


@dataclass(frozen=True)
class ConfigChange:
    """One topic setting brought in line with its declaration."""

    name: str
    was: str | None
    now: str


@dataclass(frozen=True)
class TopicOutcome:
    name: str
    created: bool
    detail: str
    changes: tuple[ConfigChange, ...] = ()
    """Declared settings an existing topic had otherwise, now set as declared."""
    mismatch: str | None = None
    """What differs from the declaration and is never changed automatically (partitions)."""
    error: str | None = None
    """Why the topic's settings could not be brought in line."""


def create_topics(
    settings: KafkaSettings,
    topics: Iterable[TopicSpec] = ALL_TOPICS,
    *,
    partitions: int | None = None,
    replication_factor: int = 1,
) -> list[TopicOutcome]:
    """Create the declared topics that are missing, and bring the declared settings of those
    that exist in line (`TopicSpec.config()`: an upgrade that changes a setting reaches the
    topics created before it). Settings not declared are left as they are.

    Partition counts are never changed: more partitions would move customers' keys to other
    partitions, and the triggers worker needs its inputs co-partitioned. A count that differs
    is reported instead. `partitions` overrides the declared counts (a small local broker does
    not need 12).
    """
    specs = list(topics)
    admin = KafkaAdminClient(**settings.client_options(), client_id="nudge-admin")
    try:
        existing = set(admin.list_topics())
        created: dict[str, TopicOutcome] = {}
        for spec in specs:
            if spec.name in existing:
                continue
            count = partitions or spec.partitions
            try:
                admin.create_topics(
                    {
                        spec.name: {
                            "num_partitions": count,
                            "replication_factor": replication_factor,
                            "configs": spec.config(),
                        }
                    }
                )
                created[spec.name] = TopicOutcome(spec.name, True, f"{count} partitions")
            except TopicAlreadyExistsError:
                pass  # created meanwhile by someone else: aligned below like the others
        kept = [spec for spec in specs if spec.name not in created]
        aligned = {o.name: o for o in _align(admin, kept, partitions)} if kept else {}
        return [created.get(spec.name) or aligned[spec.name] for spec in specs]
    finally:
        admin.close()


def _align(
    admin: KafkaAdminClient, specs: list[TopicSpec], partitions: int | None
) -> list[TopicOutcome]:
    """Set the declared settings the existing `specs` have otherwise; compare partitions."""
    described = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, s.name, list(s.config())) for s in specs],
        config_filter="all",
    ).get("topic", {})
    current = {
        name: {key: entry.get("value") for key, entry in described.get(name, {}).items()}
        for name in (s.name for s in specs)
    }
    stale = {
        s.name: {k: v for k, v in s.config().items() if current[s.name].get(k) != v} for s in specs
    }
    stale = {name: wrong for name, wrong in stale.items() if wrong}
    results: dict[str, Any] = {}
    if stale:
        resources = [ConfigResource(ConfigResourceType.TOPIC, n, w) for n, w in stale.items()]
        results = admin.alter_configs(resources).get("topic", {})
    counts = {
        topic["name"]: len(topic.get("partitions") or ())
        for topic in admin.describe_topics([s.name for s in specs])
    }
    outcomes = []
    for spec in specs:
        actual, declared = counts.get(spec.name, 0), partitions or spec.partitions
        mismatch = None
        if actual != declared:
            mismatch = (
                f"{actual} partitions on the broker, {declared} declared: never changed "
                "automatically (more partitions would move customers' keys); change by hand"
            )
        result = results.get(spec.name, "OK")
        error = None if result == "OK" else f"settings not changed: {result}"
        wrong = stale.get(spec.name, {}) if error is None else {}
        changes = tuple(
            ConfigChange(k, current[spec.name].get(k), v) for k, v in sorted(wrong.items())
        )
        outcomes.append(
            TopicOutcome(spec.name, False, f"{actual} partitions", changes, mismatch, error)
        )
    return outcomes


async def tail(
    settings: KafkaSettings, topics: Iterable[str], *, from_beginning: bool = False
) -> AsyncIterator[tuple[str, int, int, bytes | None, bytes | None]]:
    """Yield (topic, partition, offset, key, value) for every record arriving on `topics`.

    No consumer group: tailing never moves a service's committed offsets.
    """
    consumer = AIOKafkaConsumer(
        *topics,
        **settings.client_options(),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        **consumer_fetch_options(),
    )
    await consumer.start()
    try:
        async for record in consumer:
            yield record.topic, record.partition, record.offset, record.key, record.value
    finally:
        await consumer.stop()


def pin_new_group_to_end(kafka: KafkaSettings, group: str, topics: Iterable[str]) -> bool:
    """Commit end offsets for `group` unless it has committed offsets already; True if pinned.

    Kafka's `auto.offset.reset=latest` is resolved lazily, at the first fetch after assignment,
    so records produced between "the service is up" and that fetch would be skipped. Pinning
    before joining makes "latest" mean "as of this first start", exactly.
    """
    consumer = KafkaConsumer(**kafka.client_options(), group_id=group, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if any(consumer.committed(tp) is not None for tp in partitions):
            return False
        end = consumer.end_offsets(partitions)
        consumer.commit({tp: OffsetAndMetadata(end[tp], "", -1) for tp in partitions})
        return True
    finally:
        consumer.close()
