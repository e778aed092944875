"""Reports inside the feedback service: the consumer that fills the report store, in a group of
its own (`<NUDGE_FEEDBACK_GROUP_ID>-reports`; shared/group_runner.py says why apart). The API
keys' snapshot is started and stopped beside it by the server."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer

from services.feedback.parts import Built
from services.feedback.reports.consumer import TOPICS, Reporter
from shared.group_runner import GroupRunner


def reports_runner(built: Built) -> GroupRunner:
    parts = built.parts

    def make(consumer: AIOKafkaConsumer) -> Reporter:
        return Reporter(consumer, built.publisher.producer, parts.reports.store, parts.directory)

    group, start_from = f"{parts.settings.group_id}-reports", parts.settings.start_from
    return GroupRunner(built.kafka, "reports", group, TOPICS, make, start_from=start_from)
