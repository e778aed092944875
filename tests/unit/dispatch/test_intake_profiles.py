"""What intake takes from `customer.profiles.v1`: per customer, the preferred channel and the
monetary score of the newest profile; tombstones forget; visitors are not contacts; a record
that cannot be read is parked on `customer.profiles.dlq.v1` with the reason."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, cast

import orjson
from aiokafka import AIOKafkaConsumer

from services.dispatch.intake import Effects, Intake, Stored, _effects
from services.dispatch.ports import Store
from services.dispatch.profiles import ProfileFacts, facts_from, last_words
from services.dispatch.sender import StatusSink
from shared.clock import make_clock
from shared.events.shop import Channel
from shared.loop_producer import LoopProducer
from tests.support.dispatch_profiles import NOON, profile, record, sms_engaged


def test_a_profile_gives_the_preferred_channel_and_the_monetary_score() -> None:
    event = profile("acme", "c1", engagement=sms_engaged(), monetary=5)
    effects = _effects(record(event))
    assert effects is not None
    assert effects.profile == ProfileFacts(
        "acme", "c1", NOON, event.id, preferred_channel=Channel.SMS, monetary_score=5
    )
    assert effects.facts is None and effects.fired is None


def test_a_profile_without_engagement_or_scores_keeps_neither() -> None:
    facts = facts_from(record(profile("acme", "c1")))
    assert facts is not None
    assert (facts.preferred_channel, facts.monetary_score) == (None, None)


def test_a_tombstone_forgets_a_customers_profile_and_visitors_are_ignored() -> None:
    assert facts_from(record(None, key="acme:c1")) == ProfileFacts("acme", "c1", None)
    assert facts_from(record(None, key="acme:anon:v1")) is None
    assert _effects(record(profile("acme", None, anonymous="v1"))) is None


def test_the_newest_profile_of_a_poll_counts_and_a_tombstone_follows_the_order() -> None:
    older = ProfileFacts("acme", "c1", NOON - timedelta(hours=1), "p1", Channel.EMAIL)
    newer = ProfileFacts("acme", "c1", NOON, "p2", Channel.SMS)
    other = ProfileFacts("acme", "c2", NOON, "p3", Channel.EMAIL)
    gone = ProfileFacts("acme", "c2", None)
    assert last_words([newer, older, other]) == [newer, other]
    assert last_words([older, newer]) == [newer]
    assert last_words([other, gone]) == [gone]
    assert last_words([gone, older]) == [gone, older]
    tie = ProfileFacts("acme", "c1", NOON, "p4", Channel.EMAIL)
    assert last_words([newer, tie]) == [tie]  # equal times: the later record on the partition


class Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, Any]] = []

    def delivery(self, topic: str, value: bytes, key: Any) -> asyncio.Future[None]:
        self.sent.append((topic, value, key))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


class Storing(Intake):
    """Intake whose database keeps what it is given."""

    kept: list[Effects]

    async def _store(self, work: Sequence[Effects]) -> Stored:
        self.kept = list(work)
        return Stored()


async def test_records_that_cannot_be_read_are_parked_with_the_reason() -> None:
    good = profile("acme", "c1", engagement=sms_engaged())
    not_json = record(None, key="acme:c2", value=b"{not json")
    wrong_key = record(good, key="acme:c3")
    no_key = record(None, value=b"{}")
    producer = Producer()
    intake = Storing(
        cast(AIOKafkaConsumer, None),
        cast(LoopProducer, producer),
        cast(Store, None),
        cast(StatusSink, None),
        make_clock(),
    )

    await intake.handle([record(good), not_json, wrong_key, no_key])

    assert [e.profile.customer_id for e in intake.kept if e.profile] == ["c1"]
    letters = [(topic, orjson.loads(value), key) for topic, value, key in producer.sent]
    assert [topic for topic, _, _ in letters] == ["customer.profiles.dlq.v1"] * 3
    assert [key for _, _, key in letters] == [b"acme:c2", b"acme:c3", None]
    reasons = [letter["reason"] for _, letter, _ in letters]
    assert reasons[0].startswith("invalid record: ") and "json" in reasons[0].lower()
    assert reasons[1].startswith("invalid record: ") and "is not the envelope's" in reasons[1]
    assert reasons[2] == "invalid record: a profile record without a key"
    assert all(letter["service"] == "dispatch" for _, letter, _ in letters)
