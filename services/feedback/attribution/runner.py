"""Attribution inside the feedback service: its consumer, in a group of its own
(`<NUDGE_FEEDBACK_GROUP_ID>-attribution`; shared/group_runner.py says why apart).
The index reads these topics too (and parks the records that do not parse, for both); the
cost is parsing the few record types attribution needs a second time."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer

from services.feedback.attribution.consumer import TOPICS, Attributor
from services.feedback.parts import Built
from shared.group_runner import GroupRunner


def attribution_runner(built: Built) -> GroupRunner:
    parts = built.parts

    def make(consumer: AIOKafkaConsumer) -> Attributor:
        return Attributor(
            consumer,
            built.publisher.producer,
            built.publisher,
            parts.attribution,
            parts.directory,
            parts.clock,
        )

    group = f"{parts.settings.group_id}-attribution"
    start_from = parts.settings.start_from
    return GroupRunner(built.kafka, "attribution", group, TOPICS, make, start_from=start_from)
