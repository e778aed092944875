"""Every Kafka topic Nudge uses, declared once.

`nudge topics create` creates them with these settings, and the Kubernetes manifests are
rendered from the same declarations, so local and production topics never drift apart.
Broker-side auto-creation stays off: a topic missing here is a bug, not a surprise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

DAY_MS: Final = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """A topic's name and broker settings, and what its records are."""

    name: str
    partitions: int
    cleanup_policy: Literal["delete", "compact"]
    retention_ms: int | None
    key: str
    description: str
    extra_config: dict[str, str] = field(default_factory=dict)

    def config(self) -> dict[str, str]:
        """Broker topic configuration as the admin API expects it."""
        conf = {"cleanup.policy": self.cleanup_policy, **self.extra_config}
        if self.retention_ms is not None:
            conf["retention.ms"] = str(self.retention_ms)
        return conf


CUSTOMER_KEY: Final = "shop_id:customer_id (shop_id:anon:anonymous_id before identification)"

SHOP_EVENTS = TopicSpec(
    name="shop.events.v1",
    partitions=12,
    cleanup_policy="delete",
    retention_ms=30 * DAY_MS,
    key=CUSTOMER_KEY,
    description="Every accepted shop event, as a typed CloudEvents envelope.",
    # Twice the ingest body limit: any event from an accepted request fits, envelope included.
    extra_config={"min.insync.replicas": "1", "max.message.bytes": str(2 * 1024 * 1024)},
)
SHOP_EVENTS_DLQ = TopicSpec(
    name="shop.events.dlq.v1",
    partitions=3,
    cleanup_policy="delete",
    retention_ms=30 * DAY_MS,
    key="as the source record",
    description="Shop event records a consumer could not process, with the reason.",
)
TRIGGERS_FIRED = TopicSpec(
    name="triggers.fired.v1",
    partitions=12,
    cleanup_policy="delete",
    retention_ms=14 * DAY_MS,
    key=CUSTOMER_KEY,
    description="Campaign steps that are due for a customer, with deterministic ids.",
)
TRIGGERS_COMMANDS = TopicSpec(
    name="triggers.commands.v1",
    partitions=12,
    cleanup_policy="delete",
    retention_ms=7 * DAY_MS,
    key=CUSTOMER_KEY,
    description=(
        "The triggers service's own commands to itself (a timer fell due, an anonymous "
        "visitor's state moves to the customer), co-partitioned with shop.events.v1 so that "
        "they are processed in order with the customer's events. Internal: not for analysts."
    ),
)
SEGMENTS_CHANGES = TopicSpec(
    name="segments.changes.v1",
    partitions=12,
    cleanup_policy="delete",
    retention_ms=30 * DAY_MS,
    key=CUSTOMER_KEY,
    description="A customer entered or left a segment.",
)
CUSTOMER_PROFILES = TopicSpec(
    name="customer.profiles.v1",
    partitions=12,
    cleanup_policy="compact",
    retention_ms=None,
    key=CUSTOMER_KEY,
    description="The latest profile per customer (compacted).",
)
MESSAGES_STATUS = TopicSpec(
    name="messages.status.v1",
    partitions=12,
    cleanup_policy="delete",
    retention_ms=30 * DAY_MS,
    key=CUSTOMER_KEY,
    description="Each message's status changes: queued, deferred, skipped, sent, failed...",
)
MESSAGES_DLQ = TopicSpec(
    name="messages.dlq.v1",
    partitions=3,
    cleanup_policy="delete",
    retention_ms=30 * DAY_MS,
    key=CUSTOMER_KEY,
    description="Triggers dispatch gave up on after the maximum attempts, with the last error.",
)
FEEDBACK_EVENTS = TopicSpec(
    name="feedback.events.v1",
    partitions=12,
    cleanup_policy="delete",
    retention_ms=30 * DAY_MS,
    key=CUSTOMER_KEY,
    description="Replies, opt-outs, survey answers, bounces and complaints.",
)

ALL_TOPICS: Final[tuple[TopicSpec, ...]] = (
    SHOP_EVENTS,
    SHOP_EVENTS_DLQ,
    TRIGGERS_FIRED,
    TRIGGERS_COMMANDS,
    SEGMENTS_CHANGES,
    CUSTOMER_PROFILES,
    MESSAGES_STATUS,
    MESSAGES_DLQ,
    FEEDBACK_EVENTS,
)


def topic_by_name(name: str) -> TopicSpec:
    for spec in ALL_TOPICS:
        if spec.name == name:
            return spec
    known = ", ".join(t.name for t in ALL_TOPICS)
    raise KeyError(f"unknown topic {name!r}; known topics: {known}")
