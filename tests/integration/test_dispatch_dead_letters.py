"""A message that keeps failing is given up after the maximum attempts and parked on
`messages.dlq.v1` with the trigger and the last error; nothing is sent twice meanwhile."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.topics import MESSAGES_DLQ, MESSAGES_STATUS
from tests.integration.test_dispatch import Shop, final_status
from tests.support.dispatch_process import DispatchProcess, Sinks, wait_until
from tests.support.kafka_records import TopicWindow
from tests.support.stack import Stack


@pytest.fixture(scope="module")
def sinks(logs_dir: Path) -> Iterator[Sinks]:
    found = Sinks(logs_dir)
    found.start()
    yield found
    found.stop()


@pytest.fixture(scope="module")
def impatient_dispatch(stack: Stack, sinks: Sinks, logs_dir: Path) -> Iterator[DispatchProcess]:
    process = DispatchProcess(
        stack.kafka_bootstrap,
        stack.database_url,
        sinks,
        logs_dir / "dispatch-dead-letters.log",
        max_attempts="2",
        backoff_base_s="0.1",
        backoff_cap_s="0.2",
    )
    process.start()
    yield process
    process.stop()


def test_a_message_the_provider_keeps_refusing_is_parked_after_the_last_attempt(
    stack: Stack, impatient_dispatch: DispatchProcess, sinks: Sinks
) -> None:
    statuses = TopicWindow(stack.kafka_bootstrap, MESSAGES_STATUS.name)
    parked = TopicWindow(stack.kafka_bootstrap, MESSAGES_DLQ.name)
    shop = Shop(stack.kafka_bootstrap)
    try:
        sinks.control_sms(fail_status=503, fail_count=None)
        shop.customer("c1", time_zone="UTC")
        # Transactional, so that the night in UTC (quiet hours) cannot defer it instead.
        fired = shop.trigger(
            "c1",
            step="reminder-3",
            template="cart/reminder-3",
            channels=("sms",),
            transactional=True,
        )

        def failed() -> bool:
            return any(
                r.value["data"]["trigger_id"] == fired and r.value["type"] == "message.failed"
                for r in statuses.for_shop(shop.id)
            )

        wait_until(failed, 60, "the message to be given up")
        letters = [r for r in parked.since_start() if r.key == f"{shop.id}:c1"]
        assert len(letters) == 1
        assert letters[0].value["service"] == "dispatch"
        assert "gave up after 2 attempts" in letters[0].value["reason"]
        assert '"template_id":"cart/reminder-3"' in letters[0].value["payload"]
        deferrals = [
            r
            for r in statuses.for_shop(shop.id)
            if r.value["data"]["trigger_id"] == fired and r.value["type"] == "message.deferred"
        ]
        assert len(deferrals) == 1  # one retry between the two attempts
        assert final_status(statuses, shop, fired).value["type"] == "message.deferred"
    finally:
        sinks.control_sms(fail_status=None)
        shop.close()
        statuses.close()
        parked.close()
