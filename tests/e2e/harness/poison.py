"""Poison records on every topic a service consumes, and the check that each one was parked
on that topic's dead-letter topic with a reason (invariant: nothing is dropped silently).

Three kinds: bytes that are not UTF-8, JSON that is no record of the topic, and on
shop.events.v1 (whose consumers check keys) a valid event under another customer's key. They
name a shop of their own (`e2e-poison`), so no message can come of them.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from kafka import KafkaProducer

from shared.events import catalog as ev
from shared.events import dump_shop_event, shop
from shared.topics import CONSUMED_TOPICS, SHOP_EVENTS, dead_letter_topic
from tests.e2e.harness.topics_read import read_all

POISON_SHOP = "e2e-poison"


@dataclass(frozen=True)
class Poison:
    topic: str
    kind: str
    """undecodable, wrong_schema, wrong_key."""
    key: str
    value: bytes


@dataclass(frozen=True)
class Sent:
    topic: str
    kind: str
    partition: int
    offset: int


@dataclass(frozen=True)
class Parked:
    """What the dead-letter topics say of one poison record."""

    topic: str
    kind: str
    partition: int
    offset: int
    parked_by: tuple[str, ...]
    """The services that parked it (each consumer of a topic parks its own copy)."""
    reasons: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return bool(self.parked_by) and all(r.strip() for r in self.reasons)

    def as_json(self) -> dict[str, object]:
        return {**asdict(self), "ok": self.ok}


def _valid_event(customer: str) -> bytes:
    now = datetime.now(UTC)
    event = ev.CustomerUpdatedEvent(
        id=f"e2e-poison-{time.time_ns()}",
        source=f"/shops/{POISON_SHOP}/e2e",
        time=now,
        shopid=POISON_SHOP,
        customerid=customer,
        data=shop.CustomerUpdated(first_name="Poison"),
    )
    return dump_shop_event(event)


def poisons(stamp: str) -> list[Poison]:
    """The poison records of one fault, on every consumed topic (shared/topics.py)."""
    found: list[Poison] = []
    for topic in CONSUMED_TOPICS:
        key = f"{POISON_SHOP}:p-{stamp}"
        found.append(Poison(topic.name, "undecodable", key, b"\xff\xfe\x00poison\xc3\x28"))
        found.append(
            Poison(topic.name, "wrong_schema", key, json.dumps({"poison": stamp}).encode())
        )
    found.append(
        Poison(
            SHOP_EVENTS.name,
            "wrong_key",
            f"{POISON_SHOP}:someone-else-{stamp}",
            _valid_event(f"p-{stamp}"),
        )
    )
    return found


def produce(bootstrap: str, records: list[Poison]) -> list[Sent]:
    """With kafka-python's producer, as the repo's tests produce raw records."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0)
    try:
        futures = [(p, producer.send(p.topic, key=p.key.encode(), value=p.value)) for p in records]
        return [
            Sent(p.topic, p.kind, meta.partition, meta.offset)
            for p, meta in ((p, f.get(timeout=30)) for p, f in futures)
        ]
    finally:
        producer.close()


def _letters(bootstrap: str, topics: set[str]) -> list[dict[str, object]]:
    return [json.loads(value) for value in read_all(bootstrap, topics)]


def check(bootstrap: str, sent: list[Sent]) -> list[Parked]:
    """Each poison record and the letters naming its topic, partition and offset."""
    letters = _letters(bootstrap, {dead_letter_topic(s.topic).name for s in sent})
    by_source: dict[tuple[str, int, int], list[dict[str, object]]] = {}
    for letter in letters:
        source = (
            str(letter.get("source_topic")),
            int(str(letter.get("source_partition", -1))),
            int(str(letter.get("source_offset", -1))),
        )
        by_source.setdefault(source, []).append(letter)
    parked = []
    for s in sent:
        found = by_source.get((s.topic, s.partition, s.offset), [])
        parked.append(
            Parked(
                s.topic,
                s.kind,
                s.partition,
                s.offset,
                tuple(sorted(str(x.get("service")) for x in found)),
                tuple(str(x.get("reason", "")) for x in found),
            )
        )
    return parked
