"""The segmenter bench's inputs are what it claims: a workload the worker takes (every record
parses, keyed by its customer, a mix over the three topics and several shops, refunds only of
orders placed before), customers built to change segment by time alone do so at their moment,
and the worker's progress is read off its metrics without the commands topic or duplicates.
"""

from __future__ import annotations

import random
from collections import Counter

import orjson
import pytest

from services.segmenter.evaluation import Evaluator
from services.segmenter.rfm.book import RfmBook
from services.segmenter.rules.loader import SegmentCatalog
from shared.topics import FEEDBACK_EVENTS, MESSAGES_STATUS, SEGMENTER_COMMANDS, SHOP_EVENTS
from tests.bench.segmenter.population import KINDS, about_to_change, customer
from tests.bench.segmenter.throughput import segmenter_progress
from tests.bench.segmenter.workload import PARSERS, WEIGHTS, SegmenterWorkload, topic_of

EVENTS = 6_000
CUSTOMERS = 300
MOMENT = 1_900_000_000.0


@pytest.fixture(scope="module")
def records() -> list[tuple[str, bytes, dict[str, object]]]:
    workload = SegmenterWorkload("bench-test", CUSTOMERS)
    return [(r.topic, r.key, orjson.loads(r.value)) for r in workload.records(EVENTS)]


def test_every_record_parses_with_its_topics_parser_under_its_customers_key(
    records: list[tuple[str, bytes, dict[str, object]]],
) -> None:
    for topic, key, value in records:
        event = PARSERS[topic](orjson.dumps(value))
        assert key.decode() == event.key
        assert topic == topic_of(event.type)


def test_the_mix_spans_the_three_topics_and_several_shops_as_weighted(
    records: list[tuple[str, bytes, dict[str, object]]],
) -> None:
    mixed = records[CUSTOMERS:]
    by_topic = Counter(topic for topic, _key, _value in mixed)
    weights: Counter[str] = Counter()
    for kind, weight in WEIGHTS.items():
        weights[topic_of(kind)] += weight
    total = sum(weights.values())
    for topic in (SHOP_EVENTS.name, MESSAGES_STATUS.name, FEEDBACK_EVENTS.name):
        assert by_topic[topic] / len(mixed) == pytest.approx(weights[topic] / total, abs=0.03)
    assert by_topic[SHOP_EVENTS.name] > len(mixed) / 2
    shops = Counter(str(value["shopid"]) for _topic, _key, value in records)
    assert len(shops) == 4
    assert len({key for _topic, key, _value in records}) == CUSTOMERS
    kinds = Counter(str(value["type"]) for _topic, _key, value in mixed)
    assert kinds["order.refunded"] > 0 and kinds["order.cancelled"] > 0
    assert kinds["survey.answered"] > 0 and kinds["message.clicked"] > 0


def test_refunds_and_cancellations_name_an_order_the_customer_placed_before(
    records: list[tuple[str, bytes, dict[str, object]]],
) -> None:
    placed: set[tuple[bytes, str]] = set()
    for _topic, key, value in records:
        data = value["data"]
        assert isinstance(data, dict)
        if value["type"] == "order.placed":
            placed.add((key, data["order_id"]))
        elif value["type"] in ("order.refunded", "order.cancelled"):
            assert (key, data["order_id"]) in placed


def _members(evaluator: Evaluator, kind: str, at: float) -> set[str]:
    profile = about_to_change(random.Random(3), "shop-1", "c1", kind, MOMENT)
    verdicts = evaluator.evaluate(profile, at).verdicts
    return {segment for segment, verdict in verdicts.items() if verdict.matched}


@pytest.mark.parametrize("kind", KINDS)
def test_a_customer_about_to_change_changes_segment_at_the_moment_and_not_before(
    kind: str,
) -> None:
    evaluator = Evaluator(SegmentCatalog.load(None), RfmBook(), 3_600)
    hour_before = _members(evaluator, kind, MOMENT - 3_600)
    assert _members(evaluator, kind, MOMENT - 1) == hour_before
    assert _members(evaluator, kind, MOMENT + 1) != hour_before
    assert _members(evaluator, kind, MOMENT + 3_600) == _members(evaluator, kind, MOMENT + 1)


def test_an_ordinary_customer_is_a_valid_profile_of_its_shop() -> None:
    profile = customer(random.Random(5), "shop-2", "c9", MOMENT)
    evaluation = Evaluator(SegmentCatalog.load(None), RfmBook(), 3_600).evaluate(profile, MOMENT)
    assert profile.shop_id == "shop-2" and profile.customer_id == "c9"
    assert all(o.at < MOMENT for o in profile.orders)
    assert evaluation.facts.orders == len(profile.orders)


def test_progress_counts_the_workload_topics_processed_and_dead_lettered_once() -> None:
    name = "nudge_segmenter_records_total"
    metrics = "\n".join(
        [
            f"# HELP {name} Input records by topic and outcome",
            f'{name}{{outcome="processed",topic="{SHOP_EVENTS.name}"}} 100.0',
            f'{name}{{outcome="unchanged",topic="{SHOP_EVENTS.name}"}} 40.0',
            f'{name}{{outcome="dead_lettered",topic="{SHOP_EVENTS.name}"}} 2.0',
            f'{name}{{outcome="processed",topic="{MESSAGES_STATUS.name}"}} 30.0',
            f'{name}{{outcome="processed",topic="{FEEDBACK_EVENTS.name}"}} 7.0',
            f'{name}{{outcome="processed",topic="{SEGMENTER_COMMANDS.name}"}} 500.0',
            f'{name}_created{{outcome="processed",topic="{SHOP_EVENTS.name}"}} 1.7e9',
        ]
    )
    assert segmenter_progress(metrics) == (139, 2)
