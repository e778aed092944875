"""Dead letters for operators: `nudge dlq list|show|replay`.

Reading goes from a dead-letter topic's beginning to its current end without a consumer group,
so no service's offsets move. Replaying publishes a letter's original bytes, under the
original key, to its source topic through an acks=all idempotent producer and waits for the
acknowledgement. The record keeps its id (the same bytes), so every consumer treats the
replay as the event it has, or has not yet, seen: replaying twice is harmless. The letters
stay where they are (Kafka does not delete single records), and a record that is still bad is
parked again, as a new letter.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from kafka import KafkaConsumer, TopicPartition
from pydantic import ValidationError

from shared.dead_letters import payload_bytes
from shared.events.dead_letter import DeadLetter
from shared.kafka import consumer_fetch_options
from shared.loop_producer import producer_config
from shared.settings import KafkaSettings
from shared.topics import DEAD_LETTER_TOPIC_NAMES, DEAD_LETTER_TOPICS, MESSAGES_DLQ

READ_TIMEOUT_S = 30.0
"""How long reading waits for the broker without getting a record it knows is there."""
REPLAY_TIMEOUT_S = 30.0
"""How long replaying waits for the broker to acknowledge what it published."""
REASON_CHARS = 100
_RELATIVE = re.compile(r"(\d+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class DeadLetterToolError(Exception):
    """A request the tool cannot carry out; the message names the argument or the topic."""


@dataclass(frozen=True)
class StoredLetter:
    """One record of a dead-letter topic: where it is, its key, and the letter it holds."""

    partition: int
    offset: int
    key: bytes | None
    """The record's own key: the source record's key, byte for byte."""
    letter: DeadLetter | None
    problem: str | None = None
    """Why the record is not a readable dead letter (then `letter` is None)."""

    @property
    def position(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def key_text(self) -> str:
        return self.key.decode(errors="replace") if self.key is not None else "-"


Status = Literal["replayed", "would replay", "same record", "not replayable", "refused", "failed"]
FAILURES: frozenset[Status] = frozenset({"not replayable", "refused", "failed"})


@dataclass(frozen=True)
class ReplayOutcome:
    stored: StoredLetter
    status: Status
    detail: str


def resolve_topic(name: str) -> str:
    """The dead-letter topic `name` means: itself, or the dead-letter topic of a source topic."""
    if name in DEAD_LETTER_TOPIC_NAMES:
        return name
    if name in DEAD_LETTER_TOPICS:
        return DEAD_LETTER_TOPICS[name].name
    known = ", ".join(sorted(DEAD_LETTER_TOPIC_NAMES))
    raise DeadLetterToolError(
        f"TOPIC: {name!r} is neither a dead-letter topic nor the source of one; "
        f"dead-letter topics: {known}"
    )


def check_replayable_topic(name: str) -> None:
    """Refuse `messages.dlq.v1`: its letters are messages dispatch gave up on after their last
    attempt, and dispatch keeps one send per trigger id, so publishing the trigger again would
    silently do nothing. They are there to read (`list`, `show`)."""
    if name == MESSAGES_DLQ.name:
        raise DeadLetterToolError(
            f"TOPIC: {name} holds messages dispatch gave up on after their last attempt; "
            "dispatch sends a trigger at most once, so replaying its trigger would do nothing. "
            "Read them with `nudge dlq list|show`."
        )


def parse_position(text: str) -> tuple[int, int]:
    """`PARTITION:OFFSET` as two non-negative integers."""
    partition, sep, offset = text.partition(":")
    if not sep or not partition.isdigit() or not offset.isdigit():
        raise DeadLetterToolError(
            f"PARTITION:OFFSET: expected two non-negative integers such as 0:42, got {text!r}"
        )
    return int(partition), int(offset)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`--since`: a time (ISO 8601; without an offset it is UTC) or an age (`30m`, `2h`, `7d`)."""
    relative = _RELATIVE.fullmatch(text.strip())
    if relative is not None:
        amount, unit = int(relative.group(1)), relative.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise DeadLetterToolError(
            f"--since: expected a time such as 2026-11-23T10:00:00+01:00 or an age such as "
            f"30m, 2h or 7d, got {text!r}"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _consumer(settings: KafkaSettings) -> KafkaConsumer:
    """No group: nothing is committed, and no service's offsets move."""
    return KafkaConsumer(
        **settings.client_options(),
        **consumer_fetch_options(),
        client_id="nudge-dlq",
        group_id=None,
        enable_auto_commit=False,
    )


def _partitions(consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
    found = consumer.partitions_for_topic(topic)
    if not found:
        raise DeadLetterToolError(f"topic {topic} does not exist (run `nudge topics create`)")
    return [TopicPartition(topic, p) for p in sorted(found)]


def _stored(record: Any) -> StoredLetter:
    """A kafka-python ConsumerRecord as a letter, or as a record that is not one."""
    try:
        letter = DeadLetter.model_validate_json(record.value or b"")
    except ValidationError as exc:
        problem = f"not a dead letter: {exc.errors(include_url=False)[0]['msg']}"
        return StoredLetter(record.partition, record.offset, record.key, None, problem)
    return StoredLetter(record.partition, record.offset, record.key, letter)


def read_letters(settings: KafkaSettings, topic: str) -> list[StoredLetter]:
    """Every record of `topic` from its beginning to its end as of now, by partition, then
    offset."""
    consumer = _consumer(settings)
    try:
        partitions = _partitions(consumer, topic)
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        end = consumer.end_offsets(partitions)
        out: list[StoredLetter] = []
        remaining = {tp for tp in partitions if consumer.position(tp) < end[tp]}
        deadline = time.monotonic() + READ_TIMEOUT_S
        while remaining:
            if time.monotonic() > deadline:
                raise DeadLetterToolError(f"{topic}: the broker sent nothing for a while")
            for tp, records in consumer.poll(timeout_ms=1000).items():
                out.extend(_stored(r) for r in records if r.offset < end[tp])
                deadline = time.monotonic() + READ_TIMEOUT_S
            remaining = {tp for tp in remaining if consumer.position(tp) < end[tp]}
        return sorted(out, key=lambda s: (s.partition, s.offset))
    finally:
        consumer.close()


def read_letter(settings: KafkaSettings, topic: str, partition: int, offset: int) -> StoredLetter:
    """The record at `partition:offset` of `topic`; an error says why there is none."""
    consumer = _consumer(settings)
    try:
        if partition not in {tp.partition for tp in _partitions(consumer, topic)}:
            raise DeadLetterToolError(f"{topic} has no partition {partition}")
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        first = consumer.beginning_offsets([tp])[tp]
        end = consumer.end_offsets([tp])[tp]
        if not first <= offset < end:
            raise DeadLetterToolError(
                f"no record at {partition}:{offset} on {topic}: partition {partition} holds "
                f"offsets {first} to {end - 1}"
                if end > first
                else f"no record at {partition}:{offset} on {topic}: partition {partition} is empty"
            )
        consumer.seek(tp, offset)
        deadline = time.monotonic() + READ_TIMEOUT_S
        while time.monotonic() < deadline:
            for record in consumer.poll(timeout_ms=1000, max_records=1).get(tp, []):
                if record.offset != offset:  # a gap: only where records were removed
                    raise DeadLetterToolError(f"no record at {partition}:{offset} on {topic}")
                return _stored(record)
        raise DeadLetterToolError(f"{topic}: the broker sent nothing for a while")
    finally:
        consumer.close()


def select(
    letters: Iterable[StoredLetter],
    *,
    service: str | None = None,
    since: datetime | None = None,
) -> list[StoredLetter]:
    """The letters parked by `service`, at or after `since`. Records that are not readable
    letters are kept only when nothing is filtered (nothing can be said of them)."""
    chosen = []
    for stored in letters:
        letter = stored.letter
        if letter is None:
            if service is None and since is None:
                chosen.append(stored)
            continue
        if service is not None and letter.service != service:
            continue
        if since is not None and letter.parked_at < since:
            continue
        chosen.append(stored)
    return chosen


def by_time(letters: Iterable[StoredLetter]) -> list[StoredLetter]:
    """Oldest first (when they were parked), across partitions."""
    oldest = datetime.min.replace(tzinfo=UTC)
    return sorted(
        letters,
        key=lambda s: (s.letter.parked_at if s.letter else oldest, s.partition, s.offset),
    )


def source_of(letter: DeadLetter) -> str:
    if letter.source_partition is None:
        return letter.source_topic
    offset = "" if letter.source_offset is None else f"@{letter.source_offset}"
    return f"{letter.source_topic}[{letter.source_partition}]{offset}"


def list_line(stored: StoredLetter) -> str:
    """One line: position, when, who, from where, key, why (shortened)."""
    letter = stored.letter
    if letter is None:
        return f"{stored.position:>9}  {stored.key_text}  ({stored.problem})"
    reason = letter.reason.splitlines()[0] if letter.reason else ""
    if len(reason) > REASON_CHARS or "\n" in letter.reason:
        reason = reason[:REASON_CHARS].rstrip() + "..."
    when = letter.parked_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"{stored.position:>9}  {when}  {letter.service:10}  {source_of(letter):32}  "
        f"{stored.key_text:28}  {reason}"
    )


def as_json(stored: StoredLetter) -> dict[str, Any]:
    """For machines: the position, the record key and the whole letter."""
    document: dict[str, Any] = {
        "partition": stored.partition,
        "offset": stored.offset,
        "key": stored.key.decode(errors="replace") if stored.key is not None else None,
    }
    if stored.letter is None:
        document["problem"] = stored.problem
    else:
        document["letter"] = stored.letter.model_dump(mode="json")
    return document


def describe(topic: str, stored: StoredLetter) -> str:
    """The whole letter for people: its fields, then the payload, pretty-printed when JSON."""
    letter = stored.letter
    lines = [f"letter      {topic} {stored.position}", f"key         {stored.key_text}"]
    if letter is None:
        lines.append(f"problem     {stored.problem}")
        return "\n".join(lines)
    lines += [
        f"parked at   {letter.parked_at.isoformat()}",
        f"service     {letter.service}",
        f"source      {source_of(letter)}",
        "reason      " + letter.reason.replace("\n", "\n            "),
    ]
    payload = payload_bytes(letter)
    if payload is None:
        lines.append("payload     left out when parked (larger than the dead-letter topic allows)")
        return "\n".join(lines)
    lines.append(f"payload     {len(payload)} bytes, stored as {letter.payload_encoding}")
    lines.append(_readable(payload))
    return "\n".join(lines)


def _readable(payload: bytes) -> str:
    try:
        text = payload.decode()
    except UnicodeDecodeError:  # as Python writes bytes: \xff for what is not UTF-8
        return payload.decode(errors="backslashreplace")
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _refusal(stored: StoredLetter) -> str | None:
    """Why `stored` cannot be replayed, or None."""
    letter = stored.letter
    if letter is None:
        return f"not replayable: {stored.problem}"
    if letter.source_topic not in DEAD_LETTER_TOPICS:
        ours = ", ".join(DEAD_LETTER_TOPICS)
        return (
            f"refused: its source topic {letter.source_topic!r} is not one Nudge consumes ({ours})"
        )
    if letter.payload_encoding == "omitted":
        where = source_of(letter)
        return (
            "not replayable: its payload was left out when it was parked (larger than the "
            f"dead-letter topic allows); the original is at {where} while that topic keeps it"
        )
    return None


def plan(letters: Sequence[StoredLetter]) -> list[ReplayOutcome]:
    """What replaying `letters` would do, letter by letter, in the order they were parked
    within each partition (a key's letters share a partition, so its order is kept).

    Letters of the same source record (parked by two services) publish it once.
    """
    outcomes: list[ReplayOutcome] = []
    seen: dict[tuple[object, ...], str] = {}
    for stored in sorted(letters, key=lambda s: (s.partition, s.offset)):
        refusal = _refusal(stored)
        if refusal is not None:
            status: Status = "refused" if refusal.startswith("refused") else "not replayable"
            outcomes.append(ReplayOutcome(stored, status, refusal))
            continue
        assert stored.letter is not None
        letter = stored.letter
        if letter.source_partition is not None and letter.source_offset is not None:
            record = (
                letter.source_topic,
                letter.source_partition,
                letter.source_offset,
                stored.key,
                payload_bytes(letter),
            )
            if record in seen:
                detail = f"the same source record as {seen[record]}, published once"
                outcomes.append(ReplayOutcome(stored, "same record", detail))
                continue
            seen[record] = stored.position
        outcomes.append(ReplayOutcome(stored, "would replay", f"to {letter.source_topic}"))
    return outcomes


def replay(
    settings: KafkaSettings, letters: Sequence[StoredLetter], *, dry_run: bool = False
) -> list[ReplayOutcome]:
    """Publish each replayable letter's original bytes and key to its source topic, and wait
    for the broker's acknowledgement of every one."""
    planned = plan(letters)
    chosen = [o for o in planned if o.status == "would replay"]
    if dry_run or not chosen:
        return planned
    config = producer_config(
        settings, client_id="nudge-dlq", linger_ms=5, timeout_s=REPLAY_TIMEOUT_S
    )
    producer = Producer(config)
    reports: dict[str, str | Message] = {}
    """Position -> the acknowledged record, or why it was refused."""

    def reporter(position: str) -> Any:
        def report(error: KafkaError | None, record: Message) -> None:
            reports[position] = f"refused by the broker: {error.str()}" if error else record

        return report

    for outcome in chosen:
        letter = outcome.stored.letter
        assert letter is not None
        payload = payload_bytes(letter)
        assert payload is not None
        position = outcome.stored.position
        try:
            producer.produce(
                letter.source_topic, payload, outcome.stored.key, on_delivery=reporter(position)
            )
        except (KafkaException, BufferError) as exc:  # refused before sending (too large...)
            reports[position] = f"refused by the producer: {exc}"
        producer.poll(0)
    producer.flush(REPLAY_TIMEOUT_S + 5)
    return [_delivered(o, reports.get(o.stored.position)) for o in planned]


def _delivered(outcome: ReplayOutcome, report: str | Message | None) -> ReplayOutcome:
    if outcome.status != "would replay":
        return outcome
    if report is None:
        return ReplayOutcome(outcome.stored, "failed", "not acknowledged by the broker in time")
    if isinstance(report, str):
        return ReplayOutcome(outcome.stored, "failed", report)
    where = f"{report.topic()}[{report.partition()}]@{report.offset()}"
    return ReplayOutcome(outcome.stored, "replayed", f"to {where}")


def replay_line(outcome: ReplayOutcome) -> str:
    stored = outcome.stored
    return f"{outcome.status:14} {stored.position:>9}  {stored.key_text:28}  {outcome.detail}"


def replay_summary(topic: str, outcomes: Sequence[ReplayOutcome], *, dry_run: bool) -> str:
    """How many were replayed, and the warning that keeps replays from becoming a loop."""
    count = {status: 0 for status in ("replayed", "would replay", "same record")}
    for outcome in outcomes:
        if outcome.status in count:
            count[outcome.status] += 1
    others = len(outcomes) - sum(count.values())
    notes = (
        f"; {count['same record']} repeated a record already replayed"
        if count["same record"]
        else ""
    )
    notes += f"; {others} not replayed (see above)" if others else ""
    if dry_run:
        return (
            f"dry run: {count['would replay']} of {len(outcomes)} letters would be replayed"
            f"{notes}. Nothing was published."
        )
    return (
        f"replayed {count['replayed']} of {len(outcomes)} letters from {topic} to their "
        f"source topics{notes}. The letters stay on {topic}. A record that is still bad is "
        f"parked there again, as a new letter: check `nudge dlq list {topic} --since 10m` "
        "before replaying again, and replay only what a fix has made good."
    )
