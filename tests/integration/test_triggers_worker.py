"""The triggers worker on the real broker: reminders, the safety switch, crashes, replays.

Campaign time runs faster than the wall clock (a scaled clock shared by the test and the
worker), so the default catalog's real delays (+30 min, +24 h, +72 h) play out in seconds.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from kafka import KafkaProducer

from shared.clock import ScaledClock
from shared.topics import FEEDBACK_EVENTS, SHOP_EVENTS_DLQ, TRIGGERS_FIRED, dead_letter_topic
from tests.support.faust_process import TriggersProcess
from tests.support.kafka_records import Record, TopicWindow
from tests.support.shop_stream import ShopStream, wait_for
from tests.support.shops import unique_shop_id
from tests.support.stack import Stack

FAST = 14_400.0
"""Campaign seconds per wall-clock second: 72 hours take 18 seconds."""


def steps(records: list[Record], campaign: str) -> list[str]:
    return [
        r.value["data"]["step_id"]
        for r in records
        if r.value["type"] == "trigger.fired" and r.value["data"]["campaign_id"] == campaign
    ]


def fired(records: list[Record]) -> list[Record]:
    return [r for r in records if r.value["type"] == "trigger.fired"]


def when(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@pytest.fixture(scope="module")
def clock() -> ScaledClock:
    return ScaledClock(origin=time.time(), scale=FAST)


@pytest.fixture(scope="module")
def worker(
    stack: Stack, clock: ScaledClock, logs_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TriggersProcess]:
    process = TriggersProcess(
        stack.kafka_bootstrap,
        tmp_path_factory.mktemp("triggers-data"),
        logs_dir / "triggers.log",
        app_id=f"test-triggers-{int(time.time())}",
        time_scale=clock.scale,
        clock_origin=clock.origin,
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
def triggers(stack: Stack) -> Iterator[TopicWindow]:
    window = TopicWindow(stack.kafka_bootstrap, TRIGGERS_FIRED.name)
    yield window
    window.close()


@pytest.fixture
def stream(stack: Stack) -> Iterator[ShopStream]:
    producer = ShopStream(stack.kafka_bootstrap, unique_shop_id())
    yield producer
    producer.close()


def test_abandoned_cart_sends_three_reminders_at_their_offsets(
    worker: TriggersProcess, clock: ScaledClock, stream: ShopStream, triggers: TopicWindow
) -> None:
    stream.customer_created("c1", clock.now())
    cart_at = clock.now()
    stream.cart_updated("c1", "cart-1", cart_at)

    records = wait_for(
        triggers,
        stream.shop_id,
        lambda rs: len(steps(rs, "abandoned_cart")) >= 3,
        timeout=60,
    )

    reminders = [r for r in fired(records) if r.value["data"]["campaign_id"] == "abandoned_cart"]
    assert [r.value["data"]["step_id"] for r in reminders] == [
        "reminder-1",
        "reminder-2",
        "reminder-3",
    ]
    expected = [timedelta(minutes=30), timedelta(hours=24), timedelta(hours=72)]
    for record, offset in zip(reminders, expected, strict=True):
        due = when(record.value["data"]["due_at"])
        assert abs(due - (cart_at + offset)) < timedelta(seconds=1)
        assert when(record.value["time"]) >= due  # never early
        assert record.key == f"{stream.shop_id}:c1"
    cart = reminders[0].value["data"]["context"]["cart"]
    assert cart["recovery_url"].endswith("/cart/cart-1")
    assert len({r.value["id"] for r in reminders}) == 3


def test_an_order_between_reminders_stops_the_rest(
    worker: TriggersProcess, clock: ScaledClock, stream: ShopStream, triggers: TopicWindow
) -> None:
    stream.customer_created("c2", clock.now())
    cart_at = clock.now()
    stream.cart_updated("c2", "cart-2", cart_at)
    wait_for(triggers, stream.shop_id, lambda rs: "reminder-1" in steps(rs, "abandoned_cart"), 30)

    stream.order_placed("c2", "order-2", clock.now())
    wait_for(triggers, stream.shop_id, lambda rs: steps(rs, "order_confirmation") != [], 30)
    # Wait until reminder 3 would have been due, with margin, then look at everything.
    while clock.now() < cart_at + timedelta(hours=80):
        time.sleep(0.5)

    records = triggers.for_shop(stream.shop_id)
    assert steps(records, "abandoned_cart") == ["reminder-1"]


def test_a_bad_record_is_parked_and_the_stream_goes_on(
    stack: Stack,
    worker: TriggersProcess,
    clock: ScaledClock,
    stream: ShopStream,
    triggers: TopicWindow,
) -> None:
    dead_letters = TopicWindow(stack.kafka_bootstrap, SHOP_EVENTS_DLQ.name)
    feedback_letters = TopicWindow(
        stack.kafka_bootstrap, dead_letter_topic(FEEDBACK_EVENTS.name).name
    )
    feedback = KafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")
    try:
        key = f"{stream.shop_id}:c3".encode()
        stream.send_raw(key, b'{"type": "order.placed", "data": {}}')
        stream.send_raw(key, b"\xff not json")
        feedback.send(FEEDBACK_EVENTS.name, key=key, value=b'{"type": "reply.received"}')
        feedback.flush()
        stream.customer_created("c3", clock.now())

        wait_for(triggers, stream.shop_id, lambda rs: steps(rs, "welcome") != [], 30)
        parked = [
            r
            for r in dead_letters.since_start()
            if r.key == key.decode() and r.value["service"] == "triggers"
        ]
        assert len(parked) == 2
        assert all(r.value["reason"].startswith("invalid record") for r in parked)
        assert {r.value["payload_encoding"] for r in parked} == {"utf-8", "base64"}
        # A feedback record is parked on feedback's own dead-letter topic.
        deadline = time.monotonic() + 30
        while not (from_feedback := _of(feedback_letters.since_start(), key, "triggers")):
            assert time.monotonic() < deadline, "the feedback record was not parked"
            time.sleep(0.2)
        assert [r.value["source_topic"] for r in from_feedback] == [FEEDBACK_EVENTS.name]
    finally:
        feedback.close()
        feedback_letters.close()
        dead_letters.close()


def _of(letters: list[Record], key: bytes, service: str) -> list[Record]:
    return [r for r in letters if r.key == key.decode() and r.value["service"] == service]


def test_replaying_the_input_from_the_start_creates_no_new_trigger_ids(
    stack: Stack,
    worker: TriggersProcess,
    clock: ScaledClock,
    stream: ShopStream,
    triggers: TopicWindow,
) -> None:
    stream.customer_created("c4", clock.now(), signup=False)  # consent, but no welcome series
    stream.cart_updated("c4", "cart-4", clock.now())
    before = wait_for(
        triggers, stream.shop_id, lambda rs: len(steps(rs, "abandoned_cart")) == 3, 60
    )
    worker.stop()
    worker.rewind()
    worker.start()
    worker.wait_caught_up()
    time.sleep(2)  # anything the replay fired at once is on the topic by now

    after = fired(triggers.for_shop(stream.shop_id))
    assert {r.value["id"] for r in after} == {r.value["id"] for r in fired(before)}


def test_a_worker_killed_before_the_due_time_still_fires_once_and_on_time(
    stack: Stack, logs_dir: Path, tmp_path: Path, stream: ShopStream, triggers: TopicWindow
) -> None:
    """SIGKILL after the cart is scheduled; the restarted worker fires reminder 1 once."""
    slow = ScaledClock(origin=time.time(), scale=120.0)  # +30 min is 15 s: time to restart
    process = TriggersProcess(
        stack.kafka_bootstrap,
        tmp_path / "data",
        logs_dir / "triggers-restart.log",
        app_id=f"test-triggers-restart-{int(time.time())}",
        time_scale=slow.scale,
        clock_origin=slow.origin,
    )
    process.start()
    try:
        stream.customer_created("c5", slow.now())
        wait_for(triggers, stream.shop_id, lambda rs: steps(rs, "welcome") != [], 60)
        cart_at = slow.now()
        stream.cart_updated("c5", "cart-5", cart_at)
        time.sleep(2)  # processed and scheduled, not necessarily committed
        assert steps(triggers.for_shop(stream.shop_id), "abandoned_cart") == []
        process.kill()

        process.start()
        records = wait_for(
            triggers, stream.shop_id, lambda rs: "reminder-1" in steps(rs, "abandoned_cart"), 60
        )
        time.sleep(3)  # a second firing, if there were one, would be out by now
        records = triggers.for_shop(stream.shop_id)
    finally:
        process.stop()

    reminders = [r for r in fired(records) if r.value["data"]["step_id"] == "reminder-1"]
    assert len({r.value["id"] for r in reminders}) == 1
    due = when(reminders[0].value["data"]["due_at"])
    assert abs(due - (cart_at + timedelta(minutes=30))) < timedelta(seconds=1)
    assert when(reminders[0].value["time"]) >= due


def test_a_worker_whose_volume_is_lost_recovers_its_customers_from_the_changelog(
    stack: Stack, logs_dir: Path, tmp_path: Path, stream: ShopStream, triggers: TopicWindow
) -> None:
    """The states are written to the changelog in batches (shared/state_table.py): a worker
    that restarts on an empty data directory rebuilds them, and its timer index, from there."""
    slow = ScaledClock(origin=time.time(), scale=120.0)  # +30 min is 15 s: time to restart
    data = tmp_path / "data"
    process = TriggersProcess(
        stack.kafka_bootstrap,
        data,
        logs_dir / "triggers-lost-volume.log",
        app_id=f"test-triggers-volume-{time.time_ns()}",
        time_scale=slow.scale,
        clock_origin=slow.origin,
    )
    process.start()
    try:
        stream.customer_created("c6", slow.now())
        wait_for(triggers, stream.shop_id, lambda rs: steps(rs, "welcome") != [], 60)
        cart_at = slow.now()
        stream.cart_updated("c6", "cart-6", cart_at)
        process.wait_caught_up()
        process.stop()
        shutil.rmtree(data)

        process.start()
        records = wait_for(
            triggers, stream.shop_id, lambda rs: "reminder-1" in steps(rs, "abandoned_cart"), 60
        )
        time.sleep(3)  # a second firing, if there were one, would be out by now
        records = triggers.for_shop(stream.shop_id)
        stream.cart_updated("c6", "cart-6", slow.now())
        process.wait_caught_up(timeout=60)  # and it commits its progress again
    finally:
        process.stop()

    assert steps(records, "welcome") == ["welcome"]  # the recovered state knew it was sent
    reminders = [r for r in fired(records) if r.value["data"]["step_id"] == "reminder-1"]
    assert len(reminders) == 1
    due = when(reminders[0].value["data"]["due_at"])
    assert abs(due - (cart_at + timedelta(minutes=30))) < timedelta(seconds=1)
