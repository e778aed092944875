"""What a Faust worker (triggers, segmenter) settles with the broker before Faust starts.

The partition count: tables are sharded like their source topics, so every input topic must
have the same count, and the changelogs are created with it up front (Faust would create them
itself, but a topic it has just created can be missing from its metadata for a moment, and the
agent then crashes with PartitionsMismatch).

Where a brand-new consumer group starts reading (`start_from=latest`) is settled by
`shared.kafka.pin_new_group_to_end`.
"""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaConsumer

from shared.settings import KafkaSettings
from shared.topics import TopicSpec


def input_partitions(kafka: KafkaSettings, topics: Iterable[str]) -> int:
    """The common partition count of `topics`; raise if one is missing or they differ."""
    consumer = KafkaConsumer(**kafka.client_options())
    try:
        counts = {topic: len(consumer.partitions_for_topic(topic) or ()) for topic in topics}
    finally:
        consumer.close()
    missing = sorted(topic for topic, count in counts.items() if count == 0)
    if missing:
        raise RuntimeError(f"topics missing: {', '.join(missing)} (run `nudge topics create`)")
    if len(set(counts.values())) > 1:
        raise RuntimeError(f"input topics must have one partition count, found {counts}")
    return next(iter(counts.values()))


def changelog_topics(app_id: str, tables: Iterable[str], partitions: int) -> list[TopicSpec]:
    """Faust's changelog topic for each table (`<app id>-<table>-changelog`), compacted."""
    return [
        TopicSpec(
            name=f"{app_id}-{table}-changelog",
            partitions=partitions,
            cleanup_policy="compact",
            retention_ms=None,
            key="as the table",
            description=f"Changelog of the {app_id} table {table!r}: the table's durable copy.",
        )
        for table in tables
    ]
