"""Status event ids repeat when dispatch says the same thing again, and only then."""

from __future__ import annotations

from typing import Any

from shared.events.messages import MessageStatus, MessageUpdate, status_event_id


def update(status: MessageStatus, attempt: int, **fields: Any) -> MessageUpdate:
    return MessageUpdate.model_validate(
        {
            "message_id": "m-1.email",
            "trigger_id": "t-1",
            "campaign_id": "abandoned_cart",
            "step_id": "reminder-1",
            "transactional": False,
            "status": status,
            "attempt": attempt,
            **fields,
        }
    )


def test_a_terminal_status_said_again_after_a_retake_keeps_its_id() -> None:
    for status in (MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.SKIPPED):
        first = status_event_id(update(status, 1, provider_id="a"))
        assert status_event_id(update(status, 2, provider_id="b")) == first


def test_deferrals_are_one_per_attempt_and_statuses_differ() -> None:
    deferred = [status_event_id(update(MessageStatus.DEFERRED, n)) for n in (1, 2)]
    assert deferred[0] != deferred[1]
    ids = {status_event_id(update(status, 1)) for status in MessageStatus}
    assert len(ids) == len(MessageStatus)
