"""Every Kafka topic Nudge uses, declared once.

`nudge topics create` creates them with these settings, and the Kubernetes manifests are
rendered from the same declarations, so local and production topics never drift apart.
Broker-side auto-creation stays off: a topic missing here is a bug, not a surprise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

from shared.limits import DEAD_LETTER_TOPIC_MAX_MESSAGE_BYTES, TOPIC_MAX_MESSAGE_BYTES

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
    max_message_bytes: int = TOPIC_MAX_MESSAGE_BYTES
    """The broker's limit on one record batch (shared/limits.py, declared once)."""

    def config(self) -> dict[str, str]:
        """Broker topic configuration as the admin API expects it."""
        conf = {
            "cleanup.policy": self.cleanup_policy,
            "max.message.bytes": str(self.max_message_bytes),
            **self.extra_config,
        }
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
SEGMENTER_COMMANDS = TopicSpec(
    name="segmenter.commands.v1",
    partitions=12,
    cleanup_policy="delete",
    retention_ms=7 * DAY_MS,
    key=CUSTOMER_KEY,
    description=(
        "The segmenter's own commands to itself (a profile's time-based answer may have "
        "changed, an anonymous visitor's profile moves to the customer), co-partitioned with "
        "shop.events.v1 so that they are processed in order with the customer's events. "
        "Internal: not for analysts."
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
    max_message_bytes=DEAD_LETTER_TOPIC_MAX_MESSAGE_BYTES,
)
FEEDBACK_EVENTS = TopicSpec(
    name="feedback.events.v1",
    partitions=12,
    cleanup_policy="delete",
    retention_ms=30 * DAY_MS,
    key=CUSTOMER_KEY,
    description="Replies, opt-outs, survey answers, bounces and complaints.",
)
CONVERSIONS = TopicSpec(
    name="conversions.v1",
    partitions=12,
    cleanup_policy="delete",
    retention_ms=30 * DAY_MS,
    key=CUSTOMER_KEY,
    description=(
        "Orders credited to the message that led to them (last touch: a click, open or "
        "delivery within the shop's window), with the revenue; at most one per order."
    ),
)


def _dead_letters_of(source: TopicSpec) -> TopicSpec:
    """The dead-letter topic of a consumed topic: `<name>.dlq.v1` for `<name>.v1`."""
    stem = source.name.removesuffix(".v1")
    return TopicSpec(
        name=f"{stem}.dlq.v1",
        partitions=3,
        cleanup_policy="delete",
        retention_ms=30 * DAY_MS,
        key="as the source record",
        description=(
            f"Records of {source.name} a consumer could not process, with the reason and the "
            "original bytes (`nudge dlq replay` publishes them to the source again)."
        ),
        max_message_bytes=DEAD_LETTER_TOPIC_MAX_MESSAGE_BYTES,
    )


CONSUMED_TOPICS: Final = (
    SHOP_EVENTS,
    FEEDBACK_EVENTS,
    SEGMENTS_CHANGES,
    CUSTOMER_PROFILES,
    TRIGGERS_COMMANDS,
    SEGMENTER_COMMANDS,
    TRIGGERS_FIRED,
    MESSAGES_STATUS,
    CONVERSIONS,
)
"""Every topic a Nudge service consumes: each has a dead-letter topic of its own."""
DEAD_LETTER_TOPICS: Final = {source.name: _dead_letters_of(source) for source in CONSUMED_TOPICS}
"""Source topic name -> the dead-letter topic where its unprocessable records are parked."""
SHOP_EVENTS_DLQ: Final = DEAD_LETTER_TOPICS[SHOP_EVENTS.name]
DEAD_LETTER_TOPIC_NAMES: Final = frozenset(
    {*(spec.name for spec in DEAD_LETTER_TOPICS.values()), MESSAGES_DLQ.name}
)
"""Every topic whose records are dead letters (shared/events/dead_letter.py), dispatch's own
`messages.dlq.v1` included."""

ALL_TOPICS: Final[tuple[TopicSpec, ...]] = (
    SHOP_EVENTS,
    TRIGGERS_FIRED,
    TRIGGERS_COMMANDS,
    SEGMENTER_COMMANDS,
    SEGMENTS_CHANGES,
    CUSTOMER_PROFILES,
    MESSAGES_STATUS,
    MESSAGES_DLQ,
    FEEDBACK_EVENTS,
    CONVERSIONS,
    *DEAD_LETTER_TOPICS.values(),
)


def dead_letter_topic(source_topic: str) -> TopicSpec:
    """Where records of `source_topic` that cannot be processed are parked."""
    try:
        return DEAD_LETTER_TOPICS[source_topic]
    except KeyError:
        raise KeyError(f"no dead-letter topic is declared for {source_topic!r}") from None


def topic_by_name(name: str) -> TopicSpec:
    for spec in ALL_TOPICS:
        if spec.name == name:
            return spec
    known = ", ".join(t.name for t in ALL_TOPICS)
    raise KeyError(f"unknown topic {name!r}; known topics: {known}")
