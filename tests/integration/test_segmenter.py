"""The segmenter on the real broker, with the triggers worker, dispatch and the SMTP sink.

Campaign time runs 14,400 times faster than the wall clock (four hours a second), shared by
every process, so that a customer's own repeat interval (four days here: a day of campaign
time is six seconds) plays out in well under a minute:
- three orders move the customer lead -> first-time buyer -> repeat buyer -> VIP, with the
  matching `segments.changes.v1` records in order, and the VIP campaign's email is sent;
- with no new event, the customer becomes at risk, then lapsed (twice their interval since the
  last order), and the win-back email is sent;
- the segmenter is SIGKILLed in between and restarted: every profile is kept and no change is
  emitted twice;
- a second shop with the same customer id never mixes with the first.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from shared.clock import ScaledClock
from shared.events.envelope import EventEnvelope
from shared.topics import (
    CUSTOMER_PROFILES,
    MESSAGES_STATUS,
    SEGMENTS_CHANGES,
    SHOP_EVENTS,
    TRIGGERS_FIRED,
)
from tests.support.dispatch_process import DispatchProcess, Sinks, wait_until
from tests.support.faust_process import SegmenterProcess, TriggersProcess
from tests.support.kafka_records import Record, TopicWindow
from tests.support.segmenter_events import customer_created, order_placed
from tests.support.shops import unique_shop_id
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

FAST = 14_400.0
DAY = timedelta(days=1)
SHOP_POLICY = "frequency_cap: {count: 100, hours: 1}\n"
"""No cap in the way: the customer gets order mails, then VIP, then win-back within days."""


@pytest.fixture(scope="module")
def clock() -> ScaledClock:
    return ScaledClock(origin=time.time(), scale=FAST)


@pytest.fixture(scope="module")
def shops() -> tuple[str, str]:
    return unique_shop_id("seg-a"), unique_shop_id("seg-b")


@pytest.fixture(scope="module")
def segmenter(
    stack: Stack, clock: ScaledClock, logs_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SegmenterProcess]:
    process = SegmenterProcess(
        stack.kafka_bootstrap,
        tmp_path_factory.mktemp("segmenter-data"),
        logs_dir / "segmenter.log",
        app_id=f"test-segmenter-{int(time.time())}",
        time_scale=clock.scale,
        clock_origin=clock.origin,
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def triggers(
    stack: Stack, clock: ScaledClock, logs_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TriggersProcess]:
    process = TriggersProcess(
        stack.kafka_bootstrap,
        tmp_path_factory.mktemp("segmenter-triggers-data"),
        logs_dir / "segmenter-triggers.log",
        app_id=f"test-segmenter-triggers-{int(time.time())}",
        time_scale=clock.scale,
        clock_origin=clock.origin,
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def sinks(logs_dir: Path) -> Iterator[Sinks]:
    found = Sinks(logs_dir)
    found.start()
    yield found
    found.stop()


@pytest.fixture(scope="module")
def dispatch(
    stack: Stack,
    sinks: Sinks,
    clock: ScaledClock,
    shops: tuple[str, str],
    logs_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DispatchProcess]:
    policies = tmp_path_factory.mktemp("segmenter-shops")
    for shop in shops:
        (policies / f"{shop}.yaml").write_text(SHOP_POLICY)
    process = DispatchProcess(
        stack.kafka_bootstrap,
        stack.database_url,
        sinks,
        logs_dir / "segmenter-dispatch.log",
        time_scale=str(clock.scale),
        clock_origin=str(clock.origin),
        shops_dir=str(policies),
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture
def windows(stack: Stack) -> Iterator[dict[str, TopicWindow]]:
    topics = (SEGMENTS_CHANGES, CUSTOMER_PROFILES, MESSAGES_STATUS, TRIGGERS_FIRED)
    found = {spec.name: TopicWindow(stack.kafka_bootstrap, spec.name) for spec in topics}
    yield found
    for window in found.values():
        window.close()


@pytest.fixture
def send(stack: Stack) -> Iterator[Any]:
    producer = KafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all")

    def publish(event: EventEnvelope) -> None:
        producer.send(
            SHOP_EVENTS.name, key=event.key.encode(), value=event.model_dump_json().encode()
        )
        producer.flush()

    yield publish
    producer.close()


def changes(window: TopicWindow, shop: str, customer: str) -> list[Record]:
    return [r for r in window.for_shop(shop) if r.value["customerid"] == customer]


def moves(records: list[Record]) -> list[str]:
    return [
        ("+" if r.value["type"] == "segment.entered" else "-") + r.value["data"]["segment_id"]
        for r in records
    ]


def sent(window: TopicWindow, shop: str, customer: str, campaign: str) -> list[Record]:
    return [
        r
        for r in window.for_shop(shop)
        if r.value["customerid"] == customer
        and r.value["type"] == "message.sent"
        and r.value["data"]["campaign_id"] == campaign
    ]


def test_orders_make_a_vip_time_makes_them_lapse_and_a_crash_changes_nothing(
    segmenter: SegmenterProcess,
    triggers: TriggersProcess,
    dispatch: DispatchProcess,
    sinks: Sinks,
    clock: ScaledClock,
    shops: tuple[str, str],
    windows: dict[str, TopicWindow],
    send: Any,
) -> None:
    shop, other_shop = shops
    segment_window = windows[SEGMENTS_CHANGES.name]
    status = windows[MESSAGES_STATUS.name]
    now = clock.now()
    address = f"vip-{shop}@example.com"
    send(
        customer_created(
            shop=shop,
            customer="c1",
            email=address,
            email_consent=True,
            consent_at=now - 9 * DAY,
            time_zone="UTC",
            at=now - 9 * DAY,
        )
    )
    # Three orders four days apart (the interval the customer's own rhythm sets), the last one
    # now: 600 EUR in all. Each is waited for: the worker evaluates a customer once per batch,
    # so orders arriving together would move them straight to where all of them lead.
    steps = (("+first-time-buyers", 8.0, "100.00"), ("+repeat-buyers", 4.0, "150.00"))
    for n, (expected, days, total) in enumerate(steps, 1):
        order = order_placed(
            shop=shop, customer="c1", order_id=f"o{n}", total=total, at=now - days * DAY
        )
        send(order)
        wait_until(lambda: expected in moves(changes(segment_window, shop, "c1")), 60, expected)  # noqa: B023
    send(order_placed(shop=shop, customer="c1", order_id="o3", total="350.00", at=now))
    # The same customer id at another shop: one small order, nothing more.
    send(order_placed(shop=other_shop, customer="c1", order_id="o1", total="20.00", at=now))
    vip = wait_until(
        lambda: "+vip" in moves(changes(segment_window, shop, "c1")), 60, "the VIP entry"
    )
    assert vip
    assert moves(changes(segment_window, shop, "c1"))[:3] == [
        "+first-time-buyers",
        "-first-time-buyers",
        "+repeat-buyers",
    ]
    segmenter.kill()  # a crash after the VIP entry, before anything time-based (6 days on)
    segmenter.start()
    wait_until(lambda: sent(status, shop, "c1", "vip"), 60, "the VIP email")
    assert any(address in m["rcpt_tos"] for m in sinks.emails()["messages"])

    # No order for 1.5 times their interval: at risk; for twice it (eight days): lapsed, and
    # the win-back email.
    wait_until(
        lambda: "+lapsed" in moves(changes(segment_window, shop, "c1")), 120, "the lapsed entry"
    )
    wait_until(lambda: sent(status, shop, "c1", "win_back"), 60, "the win-back email")
    entered_at = {
        r.value["data"]["segment_id"]: datetime.fromisoformat(r.value["time"])
        for r in changes(segment_window, shop, "c1")
        if r.value["type"] == "segment.entered"
    }
    last_order = now
    assert {"at-risk", "lapsed"} <= entered_at.keys(), moves(changes(segment_window, shop, "c1"))
    assert entered_at["at-risk"] >= last_order + 6 * DAY - timedelta(hours=1)
    assert entered_at["lapsed"] >= last_order + 8 * DAY - timedelta(hours=1)
    assert entered_at["at-risk"] < entered_at["lapsed"]

    records = changes(segment_window, shop, "c1")
    keys = [
        (r.value["data"]["segment_id"], r.value["type"], r.value["data"]["entry"]) for r in records
    ]
    assert len(keys) == len(set(keys)), f"a change was emitted twice: {moves(records)}"
    assert len({r.value["id"] for r in records}) == len(records)

    # The other shop's customer c1 is a first-time buyer with 20 EUR, whatever c1 did here.
    assert moves(changes(segment_window, other_shop, "c1")) == ["+first-time-buyers"]
    profiles = [
        r.value["data"]
        for r in windows[CUSTOMER_PROFILES.name].for_shop(other_shop)
        if r.value["customerid"] == "c1"
    ]
    assert profiles[-1]["revenue"] == {"amount": "20.00", "currency": "EUR"}
    assert profiles[-1]["orders"] == 1
    mine = [
        r.value["data"]
        for r in windows[CUSTOMER_PROFILES.name].for_shop(shop)
        if r.value["customerid"] == "c1"
    ]
    assert mine[-1]["revenue"] == {"amount": "600.00", "currency": "EUR"}
    assert mine[-1]["lifecycle"] in {"at_risk", "lapsed"}
