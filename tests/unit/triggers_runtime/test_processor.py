"""The per-record runtime logic with plain dicts for tables and a recording outbox.

Faust itself is exercised by the integration tests; here the ordering rules are checked:
what is published, what is stored, and what happens when publishing fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from services.triggers.campaigns import CampaignCatalog
from services.triggers.journeys import CustomerState
from services.triggers.journeys.state import due_of
from services.triggers.processor import Processor
from shared import worker_commands as commands
from shared.dead_letters import payload_bytes
from shared.events import EventEnvelope, dump_shop_event
from shared.events import catalog as ev
from shared.events.dead_letter import DeadLetter
from shared.events.triggers import parse_trigger_event
from shared.state_table import Change, MemoryStateTable
from shared.stream_batch import InputRecord, OutputRecord
from shared.timer_index import TimerIndex
from shared.topics import (
    FEEDBACK_EVENTS,
    SEGMENTS_CHANGES,
    SHOP_EVENTS,
    SHOP_EVENTS_DLQ,
    TRIGGERS_COMMANDS,
    TRIGGERS_FIRED,
    TopicSpec,
    dead_letter_topic,
)
from tests.support.clocks import PinnedClock
from tests.unit.triggers.builders import (
    SHOP,
    T0,
    at,
    cart_updated,
    customer_created,
    order_placed,
    viewed,
)

KEY = f"{SHOP}:c1".encode()
GOLDEN = Path(__file__).parents[1] / "triggers" / "golden"
"""States as earlier versions wrote them."""


class RecordingOutbox:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes | None, dict[str, Any]]] = []
        self.commands: list[tuple[bytes | None, bytes]] = []
        self.fail_publishing = False

    async def publish_all(self, records: Sequence[OutputRecord]) -> None:
        if self.fail_publishing:
            raise ConnectionError("broker unavailable")
        for record in records:
            if record.topic == TRIGGERS_COMMANDS.name:
                self.commands.append((record.key, record.value))
            else:
                self.published.append((record.topic, record.key, orjson.loads(record.value)))

    async def send_command(self, key: bytes, value: bytes) -> None:
        self.commands.append((key, value))

    def fired(self) -> list[str]:
        return [
            f"{v['data']['campaign_id']}/{v['data']['step_id']}"
            for topic, _, v in self.published
            if topic == TRIGGERS_FIRED.name and v["type"] == "trigger.fired"
        ]


class Runtime:
    def __init__(self) -> None:
        self.states: dict[bytes, bytes] = {}
        self.clock = PinnedClock(T0)
        self.outbox = RecordingOutbox()
        self.processor = Processor(
            states=MemoryStateTable(self.states),
            index=TimerIndex(),
            catalog=CampaignCatalog.load(None),
            clock=self.clock,
            outbox=self.outbox,
        )
        self.offset = 0

    async def event(self, event: EventEnvelope, key: bytes | None = None) -> None:
        self.clock.moment = max(self.clock.moment, event.time)
        await self.raw(SHOP_EVENTS.name, key or event.key.encode(), dump_shop_event(event))

    async def raw(self, topic: str, key: bytes | None, value: bytes | None) -> None:
        self.offset += 1
        await self.processor.on_record(topic, 0, self.offset, key, value)

    async def run_until(self, moment: datetime) -> None:
        """Tick, and feed the due commands back in, as the worker does through the topic."""
        self.clock.moment = moment
        await self.processor.tick(limit=1000)
        while self.outbox.commands:
            key, value = self.outbox.commands.pop(0)
            await self.raw(TRIGGERS_COMMANDS.name, key, value)


async def test_a_cart_reminder_fires_through_the_timer_and_the_next_one_is_scheduled() -> None:
    rt = Runtime()
    await rt.event(customer_created(T0 - timedelta(days=30)))
    await rt.run_until(T0 - timedelta(days=1))
    await rt.event(cart_updated(T0))
    assert due_of(rt.states[KEY]) == (T0 + timedelta(minutes=30)).timestamp()

    await rt.run_until(at(minutes=29))
    assert "abandoned_cart/reminder-1" not in rt.outbox.fired()
    await rt.run_until(at(minutes=31))
    assert rt.outbox.fired()[-1] == "abandoned_cart/reminder-1"
    assert due_of(rt.states[KEY]) == (T0 + timedelta(hours=24)).timestamp()


async def test_fired_records_read_back_unchanged_through_the_validating_parser() -> None:
    rt = Runtime()
    await rt.event(customer_created(T0 - timedelta(days=30)))
    await rt.run_until(T0 - timedelta(days=1))
    await rt.event(cart_updated(T0))
    await rt.run_until(at(minutes=31))
    fired = [v for topic, _, v in rt.outbox.published if topic == TRIGGERS_FIRED.name]
    assert {v["type"] for v in fired} >= {"trigger.fired"} and len(fired) >= 2
    for value in fired:
        parsed = parse_trigger_event(orjson.dumps(value))
        assert parsed.model_dump(mode="json", exclude_none=True) == value


async def test_an_order_cancels_the_reminders_and_says_so() -> None:
    rt = Runtime()
    await rt.event(customer_created(T0 - timedelta(days=30)))
    await rt.run_until(T0 - timedelta(days=1))
    await rt.event(cart_updated(T0))
    await rt.event(order_placed(at(minutes=10)))

    exits = [v["data"] for _, _, v in rt.outbox.published if v["type"] == "journey.exited"]
    assert {"campaign_id": "abandoned_cart", "reason": "order_placed"}.items() <= exits[-1].items()
    await rt.run_until(at(days=4))
    assert not any(step.startswith("abandoned_cart/") for step in rt.outbox.fired())


async def test_when_publishing_fails_the_state_is_not_advanced() -> None:
    """The trigger must be on the broker before the state says it fired (no lost message)."""
    rt = Runtime()
    await rt.event(customer_created(T0 - timedelta(days=30)))
    await rt.run_until(T0 - timedelta(days=1))
    await rt.event(cart_updated(T0))
    before = rt.states[KEY]

    rt.outbox.fail_publishing = True
    rt.clock.moment = at(minutes=31)
    with pytest.raises(ConnectionError):
        await rt.raw(TRIGGERS_COMMANDS.name, KEY, commands.encode(commands.TimerDue()))
    assert rt.states[KEY] == before

    rt.outbox.fail_publishing = False  # the record is processed again: it fires now
    await rt.raw(TRIGGERS_COMMANDS.name, KEY, commands.encode(commands.TimerDue()))
    assert rt.outbox.fired()[-1] == "abandoned_cart/reminder-1"


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        (KEY, b"\xff\x00", "invalid record"),
        (KEY, b'{"type": "order.placed"}', "invalid record"),
        (None, b"{}", "without key"),
        (b"acme:someone-else", None, "without key or value"),
    ],
)
async def test_bad_records_are_parked_with_a_reason(
    key: bytes | None, value: bytes | None, reason: str
) -> None:
    rt = Runtime()
    await rt.raw(SHOP_EVENTS.name, key, value)
    ((topic, _, letter),) = rt.outbox.published
    assert topic == SHOP_EVENTS_DLQ.name
    assert letter["service"] == "triggers" and reason in letter["reason"]
    assert rt.states == {}


async def test_a_record_under_another_customers_key_is_parked() -> None:
    rt = Runtime()
    await rt.event(viewed(T0), key=b"acme:c2")
    ((topic, _, letter),) = rt.outbox.published
    assert topic == SHOP_EVENTS_DLQ.name
    assert "does not match the event" in letter["reason"]


@pytest.mark.parametrize("source", [FEEDBACK_EVENTS, SEGMENTS_CHANGES, TRIGGERS_COMMANDS])
async def test_a_bad_record_is_parked_on_its_own_topics_dead_letter_topic(
    source: TopicSpec,
) -> None:
    rt = Runtime()
    value = b'{"type": "nothing we know", "note": "  kept as it came  "}'
    await rt.raw(source.name, KEY, value)
    ((topic, key, letter),) = rt.outbox.published
    assert topic == dead_letter_topic(source.name).name != SHOP_EVENTS_DLQ.name
    parked = DeadLetter.model_validate(letter)
    assert key == KEY and parked.source_topic == source.name
    assert payload_bytes(parked) == value  # byte for byte: a replay is the same record


async def test_an_identified_visitor_moves_to_the_customer_key_through_a_command() -> None:
    rt = Runtime()
    visitor_key = f"{SHOP}:anon:v-1".encode()
    await rt.event(cart_updated(T0, customer=None, anonymous="v-1"))
    assert visitor_key in rt.states

    identified = ev.CustomerIdentifiedEvent.model_validate(
        {
            "id": "ident-1",
            "source": "/tests",
            "time": at(minutes=1),
            "shopid": SHOP,
            "anonymousid": "v-1",
            "data": {"anonymous_id": "v-1", "customer_id": "c1"},
        }
    )
    await rt.event(identified)
    assert visitor_key not in rt.states
    assert rt.processor.index.get(visitor_key.decode()) is None
    ((command_key, command),) = rt.outbox.commands
    assert command_key == KEY

    await rt.raw(TRIGGERS_COMMANDS.name, command_key, command)
    merged = CustomerState.from_bytes(rt.states[KEY])
    assert merged.customer_id == "c1"
    assert [cart.cart_id for cart in merged.carts] == ["cart-1"]


async def test_the_index_is_rebuilt_from_the_states_due_times() -> None:
    rt = Runtime()
    for customer in ("a", "b", "quiet"):
        await rt.event(customer_created(T0 - timedelta(days=30), customer=customer))
    await rt.run_until(T0 - timedelta(days=1))
    await rt.event(cart_updated(at(), customer="a"))
    await rt.event(cart_updated(at(minutes=60), customer="b"))
    rt.processor.index.clear()  # a restart: the index comes back from the states

    await rt.processor.rebuild_index()

    assert len(rt.processor.index) == 2  # "quiet" has nothing pending
    rt.clock.moment = at(minutes=31)
    assert await rt.processor.tick(limit=10) == 1
    assert rt.outbox.commands == [(b"acme:a", commands.encode(commands.TimerDue()))]


async def test_a_state_stored_in_format_3_before_the_upgrade_is_in_the_rebuilt_index() -> None:
    rt = Runtime()
    rt.states[KEY] = (GOLDEN / "state_format_3_busy.json").read_bytes().strip()
    stored = CustomerState.from_bytes(rt.states[KEY])
    assert stored.journeys  # the golden customer waits for a step

    await rt.processor.rebuild_index()

    assert rt.processor.index.get(KEY.decode()) == stored.next_due_s()


async def test_an_unreadable_state_is_left_out_of_the_index_and_the_others_are_not() -> None:
    rt = Runtime()
    await rt.event(customer_created(T0 - timedelta(days=30)))
    await rt.run_until(T0 - timedelta(days=1))
    await rt.event(cart_updated(T0))
    rt.states[b"acme:broken"] = b"\x09not a state"
    rt.processor.index.clear()

    await rt.processor.rebuild_index()

    assert rt.processor.index.get(KEY.decode()) == at(minutes=30).timestamp()
    assert rt.processor.index.get("acme:broken") is None


async def cart_changed_twice() -> Runtime:
    """A cart reminder due at +30 min, then moved to +40 min by a second cart change."""
    rt = Runtime()
    await rt.event(customer_created(T0 - timedelta(days=30)))
    await rt.run_until(T0 - timedelta(days=1))
    await rt.event(cart_updated(T0))
    await rt.event(cart_updated(at(minutes=10), products=("p1", "p2")))
    return rt


async def test_a_step_moved_later_is_stored_and_indexed_at_its_new_time() -> None:
    rt = await cart_changed_twice()

    # The reminder now counts from the second change.
    assert due_of(rt.states[KEY]) == at(minutes=40).timestamp()
    assert rt.processor.index.get(KEY.decode()) == at(minutes=40).timestamp()
    await rt.run_until(at(minutes=35))
    assert "abandoned_cart/reminder-1" not in rt.outbox.fired()
    await rt.run_until(at(minutes=41))
    assert rt.outbox.fired().count("abandoned_cart/reminder-1") == 1
    assert due_of(rt.states[KEY]) == at(minutes=10, hours=24).timestamp()


async def test_after_a_restart_a_moved_step_comes_at_its_new_time_once() -> None:
    rt = await cart_changed_twice()
    rt.processor.index.clear()  # a restart: the index comes back from the states
    await rt.processor.rebuild_index()

    await rt.run_until(at(minutes=31))  # the step's first time: nothing due any more
    assert "abandoned_cart/reminder-1" not in rt.outbox.fired()
    assert rt.outbox.commands == []
    await rt.run_until(at(minutes=41))
    assert rt.outbox.fired().count("abandoned_cart/reminder-1") == 1


async def test_a_step_moved_earlier_is_written_at_once() -> None:
    rt = Runtime()
    await rt.event(customer_created(T0 - timedelta(days=30)))
    await rt.run_until(T0 - timedelta(days=1))
    await rt.event(viewed(T0))  # browse abandonment: a reminder in an hour
    assert due_of(rt.states[KEY]) == at(hours=1).timestamp()
    await rt.event(cart_updated(at(minutes=5)))  # the cart reminder comes before it
    assert due_of(rt.states[KEY]) == at(minutes=35).timestamp()
    assert rt.processor.index.get(KEY.decode()) == at(minutes=35).timestamp()


class WriteLog(MemoryStateTable):
    """Records every `write_all` call: which keys, on which partition, under which origin."""

    def __init__(self, data: dict[bytes, bytes]) -> None:
        super().__init__(data)
        self.calls: list[list[Change]] = []

    async def write_all(self, changes: Sequence[Change]) -> None:
        self.calls.append(list(changes))
        await super().write_all(changes)


def _records(*events: EventEnvelope) -> list[InputRecord]:
    return [
        InputRecord(SHOP_EVENTS.name, n, n, e.key.encode(), dump_shop_event(e), origin=f"r{n}")
        for n, e in enumerate(events)
    ]


async def test_a_batch_decides_in_order_and_writes_each_customer_once() -> None:
    rt = Runtime()
    log = WriteLog(rt.states)
    rt.processor.states = log
    batch = _records(
        customer_created(T0 - timedelta(days=30)),
        customer_created(T0 - timedelta(days=30), customer="c2"),
        cart_updated(T0),
        order_placed(at(minutes=10)),  # sees the cart of the record before it
    )
    rt.clock.moment = at(minutes=10)
    await rt.processor.on_batch(batch)

    exits = [v["data"] for _, _, v in rt.outbox.published if v["type"] == "journey.exited"]
    assert any(e["campaign_id"] == "abandoned_cart" for e in exits)
    # One write per customer, in one call, on the partition and under the origin of that
    # customer's last record.
    ((*changes,),) = log.calls
    assert sorted((c.key, c.partition, c.origin) for c in changes) == [
        (KEY, 3, "r3"),
        (b"acme:c2", 1, "r1"),
    ]
    open_journeys = CustomerState.from_bytes(rt.states[KEY]).journeys
    assert "abandoned_cart" not in {journey.campaign_id for journey in open_journeys}


async def test_a_bad_record_in_a_batch_is_parked_and_the_others_go_on() -> None:
    rt = Runtime()
    good = _records(customer_created(T0), viewed(at(minutes=1)))
    bad = InputRecord(SHOP_EVENTS.name, 0, 99, KEY, b'{"type": "order.placed"}')
    await rt.processor.on_batch([good[0], bad, good[1]])
    topics = [topic for topic, _, _ in rt.outbox.published]
    assert topics.count(SHOP_EVENTS_DLQ.name) == 1
    assert rt.outbox.fired() == ["welcome/welcome"]  # the record before it applied
    assert CustomerState.from_bytes(rt.states[KEY]).views  # and the one after it


async def test_a_batch_whose_output_is_not_acknowledged_stores_nothing() -> None:
    rt = Runtime()
    await rt.event(customer_created(T0 - timedelta(days=30)))
    await rt.run_until(T0 - timedelta(days=1))
    before = dict(rt.states)
    rt.outbox.fail_publishing = True
    with pytest.raises(ConnectionError):
        await rt.processor.on_batch(
            _records(cart_updated(T0), customer_created(T0, customer="c2"), order_placed(at()))
        )
    assert rt.states == before
