"""The segmenter's processor with plain dicts for tables: order of effects, changes, timers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.segmenter.evaluation import Evaluator
from services.segmenter.processor import Processor, unpack_due
from services.segmenter.profiles.model import decode
from services.segmenter.rfm.book import RfmBook
from services.segmenter.rules.loader import SegmentCatalog
from shared import worker_commands as commands
from shared.events.envelope import EventEnvelope
from shared.events.profiles import parse_profile_event
from shared.stream_batch import InputRecord, OutputRecord
from shared.timer_index import TimerIndex
from shared.topics import (
    CUSTOMER_PROFILES,
    FEEDBACK_EVENTS,
    MESSAGES_STATUS,
    SEGMENTER_COMMANDS,
    SEGMENTS_CHANGES,
    SHOP_EVENTS,
    dead_letter_topic,
)
from tests.support.clocks import PinnedClock
from tests.support.segmenter_events import (
    T0,
    at,
    customer_created,
    customer_identified,
    message_sent,
    order_placed,
    product_viewed,
    survey_answered,
)

KEY = b"s1:c1"


class RecordingOutbox:
    def __init__(self) -> None:
        self.published: list[OutputRecord] = []
        self.commands: list[tuple[bytes, bytes]] = []
        self.fail = False

    async def publish_all(self, records: Sequence[OutputRecord]) -> None:
        if self.fail:
            raise ConnectionError("broker unavailable")
        for record in records:
            if record.topic == SEGMENTER_COMMANDS.name:
                assert record.key is not None
                self.commands.append((record.key, record.value))
            else:
                self.published.append(record)

    async def send_command(self, key: bytes, value: bytes) -> None:
        self.commands.append((key, value))

    def values(self, topic: str) -> list[dict[str, Any]]:
        found = [r for r in self.published if r.topic == topic]
        if topic == CUSTOMER_PROFILES.name:  # written without the model: it must still parse
            for record in found:
                event = parse_profile_event(record.value)
                assert record.key == event.key.encode()
        return [orjson.loads(r.value) for r in found]

    def changes(self, key: bytes | None = KEY) -> list[str]:
        """`+segment` / `-segment`, in the order they were published."""
        return [
            ("+" if value["type"] == "segment.entered" else "-") + value["data"]["segment_id"]
            for record in self.published
            if record.topic == SEGMENTS_CHANGES.name and (key is None or record.key == key)
            for value in [orjson.loads(record.value)]
        ]


_TOPIC_OF = {"message.": MESSAGES_STATUS.name, "survey.": FEEDBACK_EVENTS.name}


class Runtime:
    def __init__(self, segments_dir: Path | None = None) -> None:
        self.profiles: dict[bytes, bytes] = {}
        self.timers: dict[bytes, bytes] = {}
        self.clock = PinnedClock(T0)
        self.outbox = RecordingOutbox()
        self.evaluator = Evaluator(SegmentCatalog.load(segments_dir), RfmBook(), 3600)
        self.processor = self._processor()
        self.offset = 0

    def _processor(self) -> Processor:
        return Processor(
            profiles=self.profiles,
            timers=self.timers,
            index=TimerIndex(),
            evaluator=self.evaluator,
            clock=self.clock,
            outbox=self.outbox,
        )

    async def event(self, event: EventEnvelope) -> None:
        self.clock.moment = max(self.clock.moment, event.time)
        topic = next((t for p, t in _TOPIC_OF.items() if event.type.startswith(p)), None)
        await self.raw(
            topic or SHOP_EVENTS.name, event.key.encode(), event.model_dump_json().encode()
        )

    async def raw(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        self.offset += 1
        await self.processor.on_batch([InputRecord(topic, 0, self.offset, key, value)])

    async def run_until(self, moment: datetime) -> None:
        """Tick, and feed the commands back in, as the worker does through the topic."""
        self.clock.moment = moment
        await self.processor.tick(limit=1000)
        while self.outbox.commands:
            key, value = self.outbox.commands.pop(0)
            await self.raw(SEGMENTER_COMMANDS.name, key, value)


async def test_orders_move_a_customer_from_lead_to_vip_with_each_change_in_order() -> None:
    rt = Runtime()
    await rt.event(customer_created(at=T0))
    assert rt.outbox.changes() == []
    await rt.event(order_placed(order_id="o1", total="100.00", at=at(days=1)))
    assert rt.outbox.changes() == ["+first-time-buyers"]
    await rt.event(order_placed(order_id="o2", total="150.00", at=at(days=20)))
    await rt.event(order_placed(order_id="o3", total="300.00", at=at(days=40)))

    assert rt.outbox.changes() == [
        "+first-time-buyers",
        "-first-time-buyers",
        "+repeat-buyers",
        "+fan-coffee",  # coffee in two orders
        "+vip",
        "+high-aov",
    ]
    vip = rt.outbox.values(SEGMENTS_CHANGES.name)[-2]
    assert vip["data"] == {
        "segment_id": "vip",
        "rule_version": 1,
        "reason": vip["data"]["reason"],
        "entry": 1,
    }
    assert "550" in vip["data"]["reason"] and "3" in vip["data"]["reason"]
    profile = rt.outbox.values(CUSTOMER_PROFILES.name)[-1]["data"]
    assert profile["lifecycle"] == "repeat"
    assert profile["revenue"] == {"amount": "550.00", "currency": "EUR"}
    assert [s["segment_id"] for s in profile["segments"]] == [
        "fan-coffee",
        "high-aov",
        "repeat-buyers",
        "vip",
    ]


async def test_a_duplicate_event_changes_nothing_and_publishes_nothing() -> None:
    rt = Runtime()
    order = order_placed(order_id="o1", total="40.00", at=T0)
    await rt.event(order)
    before, stored = len(rt.outbox.published), dict(rt.profiles)
    await rt.event(order)
    assert len(rt.outbox.published) == before
    assert rt.profiles == stored


async def test_a_customer_lapses_by_time_alone_and_the_timer_says_when() -> None:
    rt = Runtime()
    await rt.event(order_placed(order_id="o1", at=T0))
    await rt.event(order_placed(order_id="o2", at=at(days=10)))
    # Their own interval is 10 days: `lapsed` (twice it) is due 20 days after the last order.
    due = unpack_due(rt.timers[KEY])
    assert due <= at(days=25).timestamp()

    await rt.run_until(at(days=29, hours=23))
    assert "+lapsed" not in rt.outbox.changes()
    await rt.run_until(at(days=30, seconds=1))
    assert rt.outbox.changes()[-1] == "+lapsed"
    assert decode(rt.profiles[KEY]).segments.keys() >= {"lapsed"}
    assert rt.outbox.values(CUSTOMER_PROFILES.name)[-1]["data"]["lifecycle"] == "at_risk"


async def test_an_order_after_lapsing_ends_the_membership_and_a_second_lapse_is_a_new_entry() -> (
    None
):
    rt = Runtime()
    await rt.event(order_placed(order_id="o1", at=T0))
    await rt.run_until(at(days=91))
    await rt.event(order_placed(order_id="o2", at=at(days=92)))
    await rt.run_until(at(days=92 + 2 * 92 + 1))
    lapsed = [
        (v["type"], v["data"]["entry"], v["id"])
        for v in rt.outbox.values(SEGMENTS_CHANGES.name)
        if v["data"]["segment_id"] == "lapsed"
    ]
    assert [(kind, entry) for kind, entry, _ in lapsed] == [
        ("segment.entered", 1),
        ("segment.exited", 1),
        ("segment.entered", 2),
    ]
    assert len({event_id for *_, event_id in lapsed}) == 3


async def test_a_batch_whose_output_failed_is_redone_with_the_same_ids() -> None:
    rt = Runtime()
    rt.outbox.fail = True
    with pytest.raises(ConnectionError):
        await rt.event(order_placed(order_id="o1", at=T0, event_id="evt-order-1"))
    assert rt.profiles == {}
    rt.outbox.fail = False
    await rt.event(order_placed(order_id="o1", at=T0, event_id="evt-order-1"))
    first = [v["id"] for v in rt.outbox.values(SEGMENTS_CHANGES.name)]

    again = Runtime()
    await again.event(order_placed(order_id="o1", at=T0, event_id="evt-order-1"))
    assert [v["id"] for v in again.outbox.values(SEGMENTS_CHANGES.name)] == first


async def test_a_bad_record_is_parked_and_its_neighbours_are_processed() -> None:
    rt = Runtime()
    await rt.raw(SHOP_EVENTS.name, KEY, b"\xff not json")
    await rt.raw(FEEDBACK_EVENTS.name, KEY, b'{"type": "survey.answered"}')
    await rt.raw(SEGMENTER_COMMANDS.name, KEY, b"?")
    await rt.event(order_placed(order_id="o1", at=T0))
    parked = {r.topic for r in rt.outbox.published if r.topic.endswith(".dlq.v1")}
    assert parked == {
        dead_letter_topic(SHOP_EVENTS.name).name,
        dead_letter_topic(FEEDBACK_EVENTS.name).name,
        dead_letter_topic(SEGMENTER_COMMANDS.name).name,
    }
    assert rt.outbox.changes() == ["+first-time-buyers"]


async def test_a_record_whose_key_is_not_its_customer_is_parked() -> None:
    rt = Runtime()
    event = order_placed(order_id="o1", at=T0)
    await rt.raw(SHOP_EVENTS.name, b"s1:someone-else", event.model_dump_json().encode())
    assert rt.profiles == {}
    (letter,) = rt.outbox.values(dead_letter_topic(SHOP_EVENTS.name).name)
    assert "does not match" in letter["reason"]


async def test_two_shops_with_the_same_customer_ids_never_mix() -> None:
    rt = Runtime()
    await rt.event(order_placed(shop="s1", order_id="o1", total="400.00", at=T0))
    await rt.event(order_placed(shop="s2", order_id="o1", total="30.00", at=T0))
    await rt.event(order_placed(shop="s2", order_id="o2", total="30.00", at=at(days=1)))
    s1 = decode(rt.profiles[b"s1:c1"])
    s2 = decode(rt.profiles[b"s2:c1"])
    assert [o.order_id for o in s1.orders] == ["o1"] and len(s2.orders) == 2
    assert "high-aov" in s1.segments and "high-aov" not in s2.segments
    assert rt.outbox.changes(b"s2:c1") == [
        "+first-time-buyers",
        "-first-time-buyers",
        "+repeat-buyers",
        "+fan-coffee",
    ]
    assert rt.outbox.changes(b"s1:c1") == ["+first-time-buyers", "+high-aov"]


async def test_a_profile_is_published_only_when_what_analysts_see_changed() -> None:
    rt = Runtime()
    await rt.event(customer_created(at=T0))
    published = len(rt.outbox.values(CUSTOMER_PROFILES.name))
    await rt.event(message_sent(message_id="m1", at=at(minutes=1)))  # a first email: news
    assert len(rt.outbox.values(CUSTOMER_PROFILES.name)) == published + 1
    await rt.event(message_sent(message_id="m2", at=at(minutes=2)))  # a counter: not news
    await rt.event(product_viewed(product_id="p1", at=at(minutes=3)))  # a new category: news
    await rt.event(product_viewed(product_id="p2", at=at(minutes=4)))  # same category, day
    assert len(rt.outbox.values(CUSTOMER_PROFILES.name)) == published + 2
    await rt.event(survey_answered(score=10, at=at(minutes=5)))
    latest = rt.outbox.values(CUSTOMER_PROFILES.name)[-1]["data"]
    assert latest["nps"]["score"] == 10
    assert "nps-promoters" in [s["segment_id"] for s in latest["segments"]]


async def test_a_visitor_s_history_moves_to_the_customer_on_identification() -> None:
    rt = Runtime()
    for n in range(2):
        await rt.event(
            product_viewed(customer=None, anonymous="v1", product_id=f"p{n}", at=at(minutes=n))
        )
    await rt.event(customer_identified(visitor="v1", customer="c1", at=at(minutes=5)))
    assert b"s1:anon:v1" not in rt.profiles
    ((key, value),) = rt.outbox.commands
    assert key == KEY and commands.decode(value) is not None
    await rt.raw(SEGMENTER_COMMANDS.name, key, value)
    profile = decode(rt.profiles[KEY])
    assert profile.customer_id == "c1"
    assert profile.categories_viewed["coffee"].count == 2


async def test_a_changed_rule_file_re_evaluates_each_profile_once_and_emits_only_real_changes(
    tmp_path: Path,
) -> None:
    rt = Runtime()
    await rt.event(order_placed(order_id="o1", total="120.00", at=T0))
    await rt.event(order_placed(order_id="o2", total="20.00", at=at(days=1), customer="c2"))
    assert "high-aov" not in decode(rt.profiles[KEY]).segments

    (tmp_path / "s1.yaml").write_text(
        "segments:\n  high-aov:\n    version: 2\n    when: aov >= 100\n"
    )
    rt.evaluator = Evaluator(SegmentCatalog.load(tmp_path), RfmBook(), 3600)
    rt.processor = rt._processor()
    await rt.processor.recover()
    assert len(rt.processor.index) == 2  # both profiles were evaluated under other rules
    before = len(rt.outbox.changes(None))
    await rt.run_until(at(days=1, seconds=1))
    assert rt.outbox.changes(None)[before:] == ["+high-aov"]
    high = rt.outbox.values(SEGMENTS_CHANGES.name)[-1]
    assert high["data"]["rule_version"] == 2 and high["customerid"] == "c1"
    await rt.processor.recover()
    assert len(rt.processor.index) <= 2  # pending timers only, nothing stale any more
    assert all(decode(raw).rules == rt.evaluator.fingerprint("s1") for raw in rt.profiles.values())


async def test_a_history_synced_in_one_batch_is_evaluated_once_on_the_whole_of_it() -> None:
    """Three past orders in one batch: the customer is a VIP at once, and never passes through
    `lapsed` (which the first two orders alone would say, seen from now)."""
    rt = Runtime()
    rt.clock.moment = at(days=10)
    orders = [
        order_placed(order_id=f"o{n}", total="200.00", at=at(days=days))
        for n, days in enumerate((0, 3, 6), 1)
    ]
    await rt.processor.on_batch(
        [
            InputRecord(SHOP_EVENTS.name, 0, n, o.key.encode(), o.model_dump_json().encode())
            for n, o in enumerate(orders)
        ]
    )
    assert "+lapsed" not in rt.outbox.changes()
    assert "+vip" in rt.outbox.changes()
    assert "+first-time-buyers" not in rt.outbox.changes()
    assert len(rt.outbox.values(CUSTOMER_PROFILES.name)) == 1


def _stamped(topic: str, key: bytes, value: bytes, moment: datetime, offset: int) -> InputRecord:
    return InputRecord(topic, 0, offset, key, value, None, moment.timestamp())


async def test_a_replay_long_after_a_crash_decides_as_the_first_run_did() -> None:
    """The evaluation happens at the records' own timestamps: a timer command replayed 109
    days later still finds the customer at risk (as at its time), not lapsed (as now)."""
    order = order_placed(order_id="o1", at=T0)
    due = commands.encode(commands.TimerDue())

    def run(rt: Runtime) -> list[Any]:
        return [
            _stamped(SHOP_EVENTS.name, KEY, order.model_dump_json().encode(), T0, 1),
            _stamped(SEGMENTER_COMMANDS.name, KEY, due, at(days=91), 2),
        ]

    first = Runtime()
    first.clock.moment = at(days=91)
    await first.processor.on_batch(run(first)[:1])
    first.outbox.fail = True
    with pytest.raises(ConnectionError):
        await first.processor.on_batch(run(first)[1:])

    first.clock.moment = at(days=200)  # the worker comes back much later
    first.outbox.fail = False
    await first.processor.on_batch(run(first)[1:])
    # At day 91 the stage is at_risk (90 days without an interval); at day 200 it would be
    # lapsed (180), and the first run's `+at-risk` would never be matched by an exit.
    assert "+at-risk" in first.outbox.changes()


async def test_events_about_nobody_known_keep_no_profile() -> None:
    rt = Runtime()
    await rt.event(message_sent(message_id="m1", at=T0))  # taken: a customer who was sent mail
    from tests.support.segmenter_events import conversion_attributed, message_queued

    await rt.event(message_queued(customer="c9", at=T0))
    await rt.raw(
        "conversions.v1", b"s1:c8", conversion_attributed(customer="c8").model_dump_json().encode()
    )
    assert set(rt.profiles) == {KEY}


async def test_a_profile_whose_evaluation_fails_is_left_as_stored_and_its_records_parked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rt = Runtime()
    await rt.event(order_placed(order_id="o1", at=T0))
    stored = dict(rt.profiles)

    def broken(*_: object, **__: object) -> None:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(rt.evaluator, "evaluate", broken)
    await rt.event(order_placed(order_id="o2", at=at(days=1)))
    assert rt.profiles == stored
    (letter,) = rt.outbox.values(dead_letter_topic(SHOP_EVENTS.name).name)
    assert "internal error" in letter["reason"]
