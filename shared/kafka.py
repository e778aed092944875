"""Kafka helpers every service uses: topic creation, the producer, a tailing consumer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata

from shared.settings import KafkaSettings
from shared.topics import ALL_TOPICS, TopicSpec


@dataclass(frozen=True)
class TopicOutcome:
    name: str
    created: bool
    detail: str


def create_topics(
    settings: KafkaSettings,
    topics: Iterable[TopicSpec] = ALL_TOPICS,
    *,
    partitions: int | None = None,
    replication_factor: int = 1,
) -> list[TopicOutcome]:
    """Create the declared topics that are missing; existing ones are left as they are.

    `partitions` overrides the declared counts (a small local broker does not need 12).
    """
    admin = KafkaAdminClient(**settings.client_options(), client_id="nudge-admin")
    try:
        existing = set(admin.list_topics())
        outcomes: list[TopicOutcome] = []
        for spec in topics:
            if spec.name in existing:
                outcomes.append(TopicOutcome(spec.name, False, "exists"))
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
                outcomes.append(TopicOutcome(spec.name, True, f"{count} partitions"))
            except TopicAlreadyExistsError:
                outcomes.append(TopicOutcome(spec.name, False, "exists"))
        return outcomes
    finally:
        admin.close()


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
