"""Kafka helpers every service uses: topic creation, the producer, a tailing reader, and
read-only topic inspection (partitions, settings, end offsets)."""

from __future__ import annotations

from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType, OffsetSpec
from kafka.errors import TopicAlreadyExistsError, TopicAuthorizationFailedError
from kafka.structs import OffsetAndMetadata

from shared.limits import CONSUMER_MAX_PARTITION_FETCH_BYTES
from shared.settings import KafkaSettings
from shared.topics import ALL_TOPICS, TopicSpec


def consumer_fetch_options() -> dict[str, int]:
    """Fetch sizes for an aiokafka or kafka-python consumer (one spelling): a record of the
    largest size any topic takes is fetched whole (shared/limits.py)."""
    return {"max_partition_fetch_bytes": CONSUMER_MAX_PARTITION_FETCH_BYTES}


POLL_GATHER_MS = 100
"""The longest the broker holds a fetch to gather records for a store-then-commit consumer."""
POLL_GATHER_BYTES = 64 * 1024
"""A fetch returns at once when this much has gathered: under load nothing waits."""


def poll_gathering_options() -> dict[str, int]:
    """For aiokafka consumers that write each poll and commit its offsets (shared/polls.py):
    the broker answers a fetch once it holds `POLL_GATHER_BYTES`, or after `POLL_GATHER_MS`
    (Kafka's `fetch.min.bytes` / `fetch.max.wait.ms`). With the defaults (1 byte) a fetch
    returns as soon as any one record arrives, so a steady trickle becomes a poll per few
    records, each with its fetch request, database transaction and offset commit; gathering
    makes one of each per batch, at the price of that much added latency when the topics
    are quiet."""
    return {"fetch_min_bytes": POLL_GATHER_BYTES, "fetch_max_wait_ms": POLL_GATHER_MS}


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


@dataclass(frozen=True, slots=True)
class TailRecord:
    """One record as it is stored: where, when (the record's timestamp, ms since the epoch;
    None when the record has none), and its key and value bytes."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None


class TopicNotOnCluster(LookupError):
    """A topic the cluster does not have, or does not show these credentials."""

    def __init__(self, topic: str) -> None:
        super().__init__(topic)
        self.topic = topic


TailStart = Literal["beginning", "latest"] | datetime
"""Where tailing starts: the oldest record, the end as of the start, or the first record whose
timestamp is at or after a moment (the broker's offsets-for-times lookup)."""


def tail(
    settings: KafkaSettings,
    topics: Sequence[str],
    *,
    start: TailStart = "latest",
    until_end: bool = False,
    poll_timeout_ms: int = 500,
) -> Generator[TailRecord, None, None]:
    """Yield the records of `topics` from `start` on, as they arrive; with `until_end`, stop
    once every partition reached its end offset as of the start.

    No consumer group: tailing never moves a service's committed offsets. Start offsets are
    looked up before the first fetch, so "latest" is exactly the end as of the call. Raises
    TopicNotOnCluster for a topic the cluster does not show.
    """
    consumer = KafkaConsumer(
        **settings.client_options(),
        **consumer_fetch_options(),
        client_id="nudge-tail",
        group_id=None,
        enable_auto_commit=False,
    )
    try:
        partitions = _partitions_of(consumer, dict.fromkeys(topics))
        consumer.assign(partitions)
        end: dict[TopicPartition, int] = consumer.end_offsets(partitions)
        for tp, offset in _start_offsets(consumer, partitions, start, end).items():
            consumer.seek(tp, offset)
        pending = {tp for tp in partitions if consumer.position(tp) < end[tp]}
        if until_end:
            consumer.pause(*(tp for tp in partitions if tp not in pending))
        while pending or not until_end:
            for tp, records in consumer.poll(timeout_ms=poll_timeout_ms).items():
                for r in records:
                    if until_end and r.offset >= end[tp]:
                        break
                    stamp = r.timestamp if r.timestamp is not None and r.timestamp >= 0 else None
                    yield TailRecord(r.topic, r.partition, r.offset, stamp, r.key, r.value)
            if until_end:
                done = {tp for tp in pending if consumer.position(tp) >= end[tp]}
                if done:
                    consumer.pause(*done)
                    pending -= done
    finally:
        consumer.close()


def _partitions_of(consumer: KafkaConsumer, topics: Iterable[str]) -> list[TopicPartition]:
    out: list[TopicPartition] = []
    for topic in topics:
        try:
            found = consumer.partitions_for_topic(topic)
        except TopicAuthorizationFailedError:
            found = None
        if not found:
            raise TopicNotOnCluster(topic)
        out += [TopicPartition(topic, p) for p in sorted(found)]
    return out


def _start_offsets(
    consumer: KafkaConsumer,
    partitions: list[TopicPartition],
    start: TailStart,
    end: dict[TopicPartition, int],
) -> dict[TopicPartition, int]:
    if start == "latest":
        return dict(end)
    if start == "beginning":
        return dict(consumer.beginning_offsets(partitions))
    assert isinstance(start, datetime)
    at_ms = max(0, int(start.timestamp() * 1000))
    found = consumer.offsets_for_times({tp: at_ms for tp in partitions})
    return {tp: end[tp] if found.get(tp) is None else found[tp].offset for tp in partitions}


@dataclass(frozen=True)
class BrokerTopic:
    """A topic as the cluster describes it."""

    name: str
    partitions: tuple[int, ...]
    config: dict[str, str]
    """The settings asked for, as the broker reports them; empty when it would not say (the
    credentials may lack the right to describe configurations)."""


class TopicInspector:
    """Read-only questions about topics over one admin connection: what exists, how it is
    configured, where the partitions end. Nothing is changed; no consumer group is used."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._admin = KafkaAdminClient(**settings.client_options(), client_id="nudge-topics")

    def __enter__(self) -> TopicInspector:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._admin.close()

    def describe(self, names: Iterable[str], config_keys: Iterable[str]) -> dict[str, BrokerTopic]:
        """The topics of `names` that exist (and these credentials see), with the settings
        of `config_keys`."""
        existing = set(self._admin.list_topics())
        wanted = [name for name in dict.fromkeys(names) if name in existing]
        if not wanted:
            return {}
        partitions = {
            topic["name"]: tuple(
                sorted(p["partition_index"] for p in topic.get("partitions") or ())
            )
            for topic in self._admin.describe_topics(wanted)
            if not topic.get("error_code")
        }
        keys = list(dict.fromkeys(config_keys))
        described = self._admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, name, keys) for name in partitions],
            config_filter="all",
        ).get("topic", {})
        return {
            name: BrokerTopic(
                name,
                parts,
                {
                    key: str(entry["value"])
                    for key, entry in (described.get(name) or {}).items()
                    if entry.get("value") is not None
                },
            )
            for name, parts in partitions.items()
        }

    def end_offsets(self, topics: Iterable[BrokerTopic]) -> dict[str, int]:
        """Per topic, the sum of its partitions' end offsets (how many records were ever
        appended to it)."""
        specs = {
            TopicPartition(topic.name, p): OffsetSpec.LATEST
            for topic in topics
            for p in topic.partitions
        }
        sums: dict[str, int] = {}
        if not specs:
            return sums
        for tp, found in self._admin.list_partition_offsets(specs).items():
            sums[tp.topic] = sums.get(tp.topic, 0) + found.offset
        return sums


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
