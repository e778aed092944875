"""`nudge simulate`'s inbox options and the summary's reply lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.simulator.command import ReplyOptions, summary_lines
from services.simulator.inbox import ReplyTally

BASE = {
    "seed": 7,
    "customers": 10,
    "days": 1.0,
    "start": "2026-12-07T00:00:00Z",
    "shops": {"sim-native": "native"},
    "time_scale": 600.0,
    "actions": 5,
    "requests": 5,
    "attempts": 5,
    "wall_s": 1.0,
    "requests_per_s": 5.0,
    "events_per_s": 5.0,
    "items": {"accepted": 5},
    "events_accepted": 5,
    "duplicates_expected": 0,
    "accepted_unexpectedly": 0,
    "resent": 0,
    "late": 0,
    "max_late_s": 0.0,
    "retries": {},
    "failed": {},
    "rejected": {},
}


@pytest.mark.parametrize(
    ("given", "complaint"),
    [
        ({}, "--smtp-log or --sms-log"),
        ({"sms_log": Path("sms.jsonl")}, "Twilio auth token"),
        ({"smtp_log": Path("smtp.jsonl"), "linger_s": -1}, "--linger"),
        ({"smtp_log": Path("smtp.jsonl"), "feedback_url": "feedback:8083"}, "--feedback-url"),
    ],
)
def test_inbox_options_that_cannot_work_are_refused(
    given: dict[str, object], complaint: str
) -> None:
    fields: dict[str, object] = {"feedback_url": "http://127.0.0.1:8083", **given}
    with pytest.raises(ValueError, match=complaint):
        ReplyOptions(**fields)  # type: ignore[arg-type]


def test_the_summary_counts_replies_per_kind_and_outcome() -> None:
    tally = ReplyTally(pending=2)
    tally.messages.update({"email": 3, "sms": 1})
    tally.outcomes.update({("stop", "ok"): 1, ("click", "ok"): 2, ("click", "no_link"): 1})
    report = {**BASE, **tally.as_json()}
    assert report["replies"] == {"click": {"no_link": 1, "ok": 2}, "stop": {"ok": 1}}
    lines = summary_lines(report)
    assert "inboxes: 3 emails and 1 texts read, 2 replies still due at the end" in lines
    assert "replies click: no_link 1, ok 2" in lines and "replies stop: ok 1" in lines
    assert not any(line.startswith("inboxes") for line in summary_lines(BASE))
