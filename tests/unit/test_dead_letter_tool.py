"""`nudge dlq`'s decisions without a broker: arguments, what is replayable, the lines shown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services import dead_letter_tool as dlq
from shared.dead_letters import dead_letter
from shared.events.dead_letter import DeadLetter
from shared.limits import MAX_DEAD_LETTER_BYTES
from shared.topics import FEEDBACK_EVENTS, MESSAGES_DLQ, SHOP_EVENTS

NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def stored(
    position: tuple[int, int],
    *,
    value: bytes = b'{"id": "e-1"}',
    source: str = SHOP_EVENTS.name,
    source_offset: int | None = 7,
    service: str = "triggers",
    reason: str = "invalid record: data: Field required",
    at: datetime = NOW,
) -> dlq.StoredLetter:
    parked = dead_letter(
        source_topic=source,
        partition=0 if source_offset is not None else None,
        offset=source_offset,
        key=b"acme:c1",
        value=value,
        service=service,
        reason=reason,
        now=at,
        topic="shop.events.dlq.v1",
    )
    letter = DeadLetter.model_validate_json(parked.value)
    return dlq.StoredLetter(position[0], position[1], parked.key, letter)


def test_a_source_topic_means_its_dead_letter_topic() -> None:
    assert dlq.resolve_topic("shop.events.v1") == "shop.events.dlq.v1"
    assert dlq.resolve_topic("feedback.events.dlq.v1") == "feedback.events.dlq.v1"
    assert dlq.resolve_topic("messages.dlq.v1") == "messages.dlq.v1"
    assert dlq.resolve_topic("customer.profiles.v1") == "customer.profiles.dlq.v1"
    with pytest.raises(dlq.DeadLetterToolError, match=r"TOPIC: 'no.such.topic.v1'"):
        dlq.resolve_topic("no.such.topic.v1")


def test_messages_dispatch_gave_up_on_are_read_not_replayed() -> None:
    with pytest.raises(dlq.DeadLetterToolError, match="at most once"):
        dlq.check_replayable_topic(MESSAGES_DLQ.name)
    dlq.check_replayable_topic("shop.events.dlq.v1")  # no exception


@pytest.mark.parametrize("text", ["3", "a:1", "1:", "-1:2", "1:2:3", ""])
def test_a_bad_position_names_the_argument(text: str) -> None:
    with pytest.raises(dlq.DeadLetterToolError, match="PARTITION:OFFSET"):
        dlq.parse_position(text)


def test_since_takes_a_time_or_an_age() -> None:
    assert dlq.parse_since("2h", NOW) == NOW - timedelta(hours=2)
    assert dlq.parse_since("7d", NOW) == NOW - timedelta(days=7)
    assert dlq.parse_since("2026-11-23T11:00:00+01:00") == NOW
    assert dlq.parse_since("2026-11-23T10:00") == NOW  # no offset: UTC
    with pytest.raises(dlq.DeadLetterToolError, match="--since"):
        dlq.parse_since("yesterday")


def test_filters_by_service_and_time_and_keeps_order() -> None:
    old = stored((0, 0), at=NOW - timedelta(days=2))
    new = stored((1, 0), at=NOW, source_offset=8)
    other = stored((0, 1), service="dispatch", source_offset=9)
    unreadable = dlq.StoredLetter(2, 0, None, None, "not a dead letter: Invalid JSON")
    letters = [old, new, other, unreadable]
    assert dlq.select(letters, service="triggers") == [old, new]
    assert dlq.select(letters, since=NOW - timedelta(hours=1)) == [new, other]
    assert dlq.select(letters) == letters  # nothing filtered: the unreadable one shows too
    assert dlq.by_time([new, unreadable, old]) == [unreadable, old, new]


def test_a_list_line_shortens_the_reason() -> None:
    line = dlq.list_line(stored((2, 40), reason="first line " + "x" * 500 + "\nsecond"))
    assert line.split()[:5] == [
        "2:40",
        "2026-11-23T10:00:00Z",
        "triggers",
        "shop.events.v1[0]@7",
        "acme:c1",
    ]
    assert "second" not in line and line.endswith("...") and len(line) < 250


def test_show_pretty_prints_a_json_payload_and_escapes_bytes() -> None:
    text = dlq.describe("shop.events.dlq.v1", stored((0, 3), value=b'{"id":"e-1","n":[1]}'))
    assert '{\n  "id": "e-1",\n  "n": [\n    1\n  ]\n}' in text
    raw = dlq.describe("shop.events.dlq.v1", stored((0, 4), value=b"\xff\x00ok"))
    assert "stored as base64" in raw and raw.endswith("\\xff\x00ok")


def test_what_cannot_be_replayed_says_why() -> None:
    omitted = stored((0, 1), value=b"\xff" * MAX_DEAD_LETTER_BYTES, source_offset=1)
    foreign = stored((0, 2), source="orders.v1", source_offset=2)
    internal = stored((0, 3), source=MESSAGES_DLQ.name, source_offset=3)
    unreadable = dlq.StoredLetter(0, 4, None, None, "not a dead letter: Invalid JSON")
    outcomes = {o.stored.offset: o for o in dlq.plan([omitted, foreign, internal, unreadable])}
    assert outcomes[1].status == "not replayable" and "left out" in outcomes[1].detail
    assert outcomes[1].detail.endswith("shop.events.v1[0]@1 while that topic keeps it")
    assert outcomes[2].status == "refused" and "'orders.v1'" in outcomes[2].detail
    assert outcomes[3].status == "refused"  # never into a dead-letter topic
    assert outcomes[4].status == "not replayable" and "Invalid JSON" in outcomes[4].detail


def test_letters_of_one_source_record_replay_it_once_in_parking_order() -> None:
    first = stored((1, 5), service="triggers")
    again = stored((1, 9), service="dispatch")  # the same record, parked by a second service
    other = stored((1, 7), source=FEEDBACK_EVENTS.name)
    no_coordinates = stored((0, 2), source_offset=None)
    outcomes = dlq.plan([again, other, first, no_coordinates])
    assert [(o.stored.position, o.status) for o in outcomes] == [
        ("0:2", "would replay"),
        ("1:5", "would replay"),
        ("1:7", "would replay"),
        ("1:9", "same record"),
    ]


def test_the_summary_warns_that_bad_records_come_back() -> None:
    outcomes = dlq.plan([stored((0, 0)), stored((0, 1), source="orders.v1")])
    summary = dlq.replay_summary("shop.events.dlq.v1", outcomes, dry_run=True)
    assert summary.startswith("dry run: 1 of 2 letters would be replayed; 1 not replayed")
    done = [dlq.ReplayOutcome(o.stored, "replayed", "to x") for o in outcomes[:1]]
    summary = dlq.replay_summary("shop.events.dlq.v1", done, dry_run=False)
    assert summary.startswith("replayed 1 of 1 letters from shop.events.dlq.v1")
    assert "parked there again" in summary
