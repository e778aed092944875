"""`nudge tail` on the real broker: filters by shop, customer and type, a start time or age,
`--until-end`, JSON Lines, and dead-letter topics. Every record is this module's own shop's,
so other records on the shared broker only pass through the filters."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kafka import KafkaProducer
from typer.testing import CliRunner

from services.cli import app
from shared.dead_letters import dead_letter
from shared.kafka import TopicNotOnCluster, tail
from shared.settings import KafkaSettings
from shared.topics import CONVERSIONS, SHOP_EVENTS, SHOP_EVENTS_DLQ
from tests.support import report_records
from tests.support.shop_stream import ShopStream
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Published:
    shop: str
    other_shop: str
    since: datetime


@pytest.fixture(scope="module")
def published(stack: Stack) -> Iterator[Published]:
    """Shop events of two customers and one of another shop, a conversion, and two dead
    letters (one of them not JSON), all produced after `since`."""
    tag = uuid.uuid4().hex[:8]
    shop, other = f"tail-{tag}", f"tail-{tag}-other"
    since = datetime.now(UTC) - timedelta(seconds=2)
    now = datetime.now(UTC)
    stream, others = (
        ShopStream(stack.kafka_bootstrap, shop),
        ShopStream(stack.kafka_bootstrap, other),
    )
    stream.customer_created("c1", now)
    stream.cart_updated("c1", "cart-1", now)
    stream.order_placed("c1", "o-1", now)
    stream.order_placed("c2", "o-2", now)
    others.order_placed("c1", "o-3", now)
    stream.close()
    others.close()
    producer = KafkaProducer(bootstrap_servers=stack.kafka_bootstrap, acks="all", linger_ms=0)
    producer.send(
        CONVERSIONS.name,
        key=f"{shop}:c1".encode(),
        value=report_records.conversion(shop, "o-1", "m-1", "19.90", at=now),
    )
    order = report_records.envelope(shop, "order.placed", {"order_id": "o-9"}, customer="c1")
    parked = dead_letter(
        source_topic=SHOP_EVENTS.name,
        partition=0,
        offset=1,
        key=f"{shop}:c1".encode(),
        value=order,
        service="test",
        reason="invalid record: data.total: Field required",
    )
    producer.send(parked.topic, key=parked.key, value=parked.value)
    producer.send(SHOP_EVENTS_DLQ.name, key=f"{shop}:c2".encode(), value=b"\xff not json")
    producer.flush()
    producer.close()
    yield Published(shop, other, since)


@pytest.fixture
def nudge(stack: Stack) -> CliRunner:
    return CliRunner(env={"KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap, "COLUMNS": "200"})


def lines(nudge: CliRunner, *args: str) -> list[dict[str, Any]]:
    result = nudge.invoke(app, ["tail", *args, "--until-end", "--output", "json"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def kinds(found: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    return sorted((r["topic"], r["key"], r["value"]["type"]) for r in found)


def test_a_shops_records_from_a_time_to_the_end(nudge: CliRunner, published: Published) -> None:
    shop = published.shop
    found = lines(
        nudge,
        SHOP_EVENTS.name,
        CONVERSIONS.name,
        "--shop",
        shop,
        "--from",
        published.since.isoformat(),
    )
    assert kinds(found) == [
        (CONVERSIONS.name, f"{shop}:c1", "conversion.attributed"),
        (SHOP_EVENTS.name, f"{shop}:c1", "cart.updated"),
        (SHOP_EVENTS.name, f"{shop}:c1", "customer.created"),
        (SHOP_EVENTS.name, f"{shop}:c1", "order.placed"),
        (SHOP_EVENTS.name, f"{shop}:c2", "order.placed"),
    ]
    first = found[0]
    assert set(first) == {"topic", "partition", "offset", "timestamp", "key", "value"}
    assert datetime.fromisoformat(first["timestamp"]) >= published.since
    assert first["value"]["shopid"] == shop


def test_customers_types_and_several_shops(nudge: CliRunner, published: Published) -> None:
    shop, other = published.shop, published.other_shop
    topics = (SHOP_EVENTS.name, CONVERSIONS.name)
    mine = lines(
        nudge, *topics, "--from", "10m", "--customer", "c1", "--shop", shop, "--type", "order.*",
        "--type", "conversion.*",
    )  # fmt: skip
    assert kinds(mine) == [
        (CONVERSIONS.name, f"{shop}:c1", "conversion.attributed"),
        (SHOP_EVENTS.name, f"{shop}:c1", "order.placed"),
    ]
    orders = lines(
        nudge, *topics, "--from", published.since.isoformat(), "--shop", shop, "--shop", other,
        "--type", "order.placed",
    )  # fmt: skip
    assert sorted(r["key"] for r in orders) == [f"{other}:c1", f"{shop}:c1", f"{shop}:c2"]


def test_text_lines_and_limit(nudge: CliRunner, published: Published) -> None:
    args = ["tail", SHOP_EVENTS.name, "--shop", published.shop, "--from", "10m", "--until-end"]
    result = nudge.invoke(app, [*args, "--limit", "2"])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 2
    assert all(f"{published.shop}:c" in line for line in result.stdout.splitlines())


def test_dead_letters(nudge: CliRunner, published: Published) -> None:
    start = ("--shop", published.shop, "--from", published.since.isoformat())
    both = lines(nudge, SHOP_EVENTS_DLQ.name, *start)
    assert sorted(r["key"] for r in both) == [f"{published.shop}:c1", f"{published.shop}:c2"]
    (binary,) = [r for r in both if "value_base64" in r]
    assert binary["key"] == f"{published.shop}:c2"
    # The type of a dead letter is its payload's.
    (letter,) = lines(nudge, SHOP_EVENTS_DLQ.name, *start, "--type", "order.*")
    assert letter["value"]["service"] == "test"
    text = nudge.invoke(
        app, ["tail", SHOP_EVENTS_DLQ.name, *start, "--until-end", "--type", "order.*"]
    )
    assert "PARKED by test from shop.events.v1 p0@1" in text.stdout


def test_latest_until_end_prints_nothing(nudge: CliRunner, published: Published) -> None:
    assert lines(nudge, SHOP_EVENTS.name, "--shop", published.shop) == []


def test_a_topic_the_cluster_lacks(stack: Stack) -> None:
    with pytest.raises(TopicNotOnCluster) as caught:
        next(tail(KafkaSettings(bootstrap_servers=stack.kafka_bootstrap), ["absent.v1"]))
    assert caught.value.topic == "absent.v1"
