"""Who writes and who reads each topic, declared once beside the topics themselves.

The Kubernetes `KafkaUser` ACLs (least privilege per service), the AsyncAPI catalog's
"written by / read by" and the runbook's consumer groups are all generated from these
declarations; tests check them against the topics each service actually subscribes to and
publishes on, so a new subscription cannot silently lack its permission.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from shared.topics import (
    CONSUMED_TOPICS,
    CONVERSIONS,
    CUSTOMER_PROFILES,
    DEAD_LETTER_TOPIC_NAMES,
    FEEDBACK_EVENTS,
    MESSAGES_DLQ,
    MESSAGES_STATUS,
    SEGMENTER_COMMANDS,
    SEGMENTS_CHANGES,
    SHOP_EVENTS,
    TRIGGERS_COMMANDS,
    TRIGGERS_FIRED,
    TopicSpec,
    dead_letter_topic,
)


@dataclass(frozen=True)
class KafkaPrincipal:
    """One Kafka identity (a Strimzi `KafkaUser`) and everything it may do.

    `groups` are the exact consumer group ids its consumers use by default;
    `internal_prefix` is a Faust app id, whose changelog topics (`<app id>-<table>-changelog`)
    and consumer group the app creates and owns.
    """

    name: str
    description: str
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    group_prefixes: tuple[str, ...] = ()
    internal_prefix: str | None = None

    @property
    def dead_letters(self) -> tuple[str, ...]:
        """The dead-letter topics it parks records on: those of the topics it consumes."""
        return tuple(dead_letter_topic(topic).name for topic in self.reads)


def _names(*specs: TopicSpec) -> tuple[str, ...]:
    return tuple(spec.name for spec in specs)


INGEST: Final = KafkaPrincipal(
    name="ingest",
    description="HTTP API for the shops' webhooks: validates and publishes their events.",
    writes=_names(SHOP_EVENTS),
)
TRIGGERS: Final = KafkaPrincipal(
    name="triggers",
    description="Faust app: per-customer journeys and their timers; fires campaign steps.",
    reads=_names(SHOP_EVENTS, FEEDBACK_EVENTS, SEGMENTS_CHANGES, TRIGGERS_COMMANDS),
    writes=_names(TRIGGERS_FIRED, TRIGGERS_COMMANDS),
    groups=("nudge-triggers",),
    internal_prefix="nudge-triggers",
)
SEGMENTER: Final = KafkaPrincipal(
    name="segmenter",
    description="Faust app: profiles, lifecycle, RFM and segment membership.",
    reads=_names(SHOP_EVENTS, MESSAGES_STATUS, FEEDBACK_EVENTS, CONVERSIONS, SEGMENTER_COMMANDS),
    writes=_names(SEGMENTS_CHANGES, CUSTOMER_PROFILES, SEGMENTER_COMMANDS),
    groups=("nudge-segmenter",),
    internal_prefix="nudge-segmenter",
)
SEGMENTER_API: Final = KafkaPrincipal(
    name="segmenter-api",
    description="Read API over the profiles: projects customer.profiles.v1 into PostgreSQL.",
    reads=_names(CUSTOMER_PROFILES),
    groups=("nudge-segmenter-api",),
)
DISPATCH: Final = KafkaPrincipal(
    name="dispatch",
    description=(
        "Intake reads triggers and contact data into PostgreSQL; senders send and publish "
        "each message's status (both roles share this identity)."
    ),
    reads=_names(TRIGGERS_FIRED, SHOP_EVENTS, FEEDBACK_EVENTS, CUSTOMER_PROFILES),
    writes=_names(MESSAGES_STATUS, MESSAGES_DLQ),
    groups=("nudge-dispatch",),
)
FEEDBACK: Final = KafkaPrincipal(
    name="feedback",
    description=(
        "Provider callbacks, replies, unsubscribes, surveys and tracking; attributes orders "
        "to messages and keeps the reports."
    ),
    reads=_names(SHOP_EVENTS, MESSAGES_STATUS, FEEDBACK_EVENTS, TRIGGERS_FIRED, CONVERSIONS),
    writes=_names(FEEDBACK_EVENTS, MESSAGES_STATUS, CONVERSIONS),
    groups=("nudge-feedback", "nudge-feedback-attribution", "nudge-feedback-reports"),
)
ANALYSTS: Final = KafkaPrincipal(
    name="analysts",
    description=(
        "Read-only access for analysts and their jobs to the public topics (`nudge tail` "
        "uses no consumer group; their own jobs use groups named `analytics-...`)."
    ),
    reads=_names(
        SHOP_EVENTS,
        TRIGGERS_FIRED,
        SEGMENTS_CHANGES,
        CUSTOMER_PROFILES,
        MESSAGES_STATUS,
        FEEDBACK_EVENTS,
        CONVERSIONS,
    ),
    group_prefixes=("analytics-",),
)
OPERATORS: Final = KafkaPrincipal(
    name="operators",
    description=(
        "On-call tooling (`nudge dlq list|show|replay`): reads every dead-letter topic and "
        "publishes replayed records to their source topics."
    ),
    reads=tuple(sorted(DEAD_LETTER_TOPIC_NAMES)),
    writes=_names(*CONSUMED_TOPICS),
)

SERVICES: Final = (INGEST, TRIGGERS, SEGMENTER, SEGMENTER_API, DISPATCH, FEEDBACK)
"""The services' identities, in the order of the pipeline."""
PRINCIPALS: Final = (*SERVICES, ANALYSTS, OPERATORS)


def writers_of(topic: str) -> tuple[str, ...]:
    """The services that publish on `topic` (dead letters included)."""
    return tuple(p.name for p in SERVICES if topic in p.writes or topic in p.dead_letters)


def readers_of(topic: str) -> tuple[str, ...]:
    """Who consumes `topic`: services, then analysts and operators."""
    return tuple(p.name for p in PRINCIPALS if topic in p.reads)
