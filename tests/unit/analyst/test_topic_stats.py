"""`nudge topics list`: rows built from what the broker reports, the rate, the marks."""

from __future__ import annotations

from services.analyst.topic_stats import (
    build_row,
    differences,
    json_row,
    rate,
    retention_text,
    text_rows,
)
from shared.kafka import BrokerTopic
from shared.topics import CONVERSIONS, CUSTOMER_PROFILES, MESSAGES_DLQ, SHOP_EVENTS, TopicSpec


def as_declared(spec: TopicSpec = SHOP_EVENTS) -> BrokerTopic:
    """The topic as a broker reports it when it is as declared (a broker reports every
    setting: retention.ms has its default where nothing is declared)."""
    reported = {"retention.ms": "604800000", **spec.config()}
    return BrokerTopic(spec.name, tuple(range(spec.partitions)), reported)


def test_a_topic_as_declared() -> None:
    row = build_row(SHOP_EVENTS, as_declared(), 100, 130, 2.0)
    assert row.status == "ok" and row.differences == ()
    assert (row.partitions, row.cleanup_policy, row.retention_ms) == (12, "delete", 30 * 86_400_000)
    assert row.config_source == "broker"
    assert row.end_offsets == 130 and row.rate_per_s == 15.0


def test_differences_name_the_setting_and_both_values() -> None:
    broker = BrokerTopic(
        SHOP_EVENTS.name,
        (0, 1),
        {**SHOP_EVENTS.config(), "retention.ms": "60000", "segment.ms": "1"},
    )
    assert differences(SHOP_EVENTS, broker) == (
        "partitions 2 (declared 12)",
        "retention.ms 60000 (declared 2592000000)",
    )
    row = build_row(SHOP_EVENTS, broker)
    assert row.status == "differs" and row.retention_ms == 60000
    lines = text_rows([row])
    assert "DIFFERS from shared/topics.py" in lines[1]
    assert lines[2:] == [
        "    partitions 2 (declared 12)",
        "    retention.ms 60000 (declared 2592000000)",
    ]


def test_settings_the_broker_would_not_report_come_from_the_declaration() -> None:
    silent = BrokerTopic(CONVERSIONS.name, tuple(range(12)), {})
    row = build_row(CONVERSIONS, silent, 5)
    assert row.config_source == "declared" and row.status == "ok"
    assert (row.cleanup_policy, row.retention_ms) == ("delete", CONVERSIONS.retention_ms)
    assert row.rate_per_s is None and row.end_offsets == 5
    assert "delete (declared)" in text_rows([row])[1]


def test_a_missing_topic() -> None:
    row = build_row(MESSAGES_DLQ, None)
    assert row.status == "missing" and not row.exists
    assert json_row(row) == {
        "topic": MESSAGES_DLQ.name,
        "status": "missing",
        "partitions": None,
        "declared_partitions": MESSAGES_DLQ.partitions,
        "cleanup_policy": None,
        "retention_ms": None,
        "config_source": None,
        "end_offsets": None,
        "records_per_s": None,
        "differences": [],
    }
    assert "MISSING" in text_rows([row])[1]


def test_rate() -> None:
    assert rate(10, 25, 1.5) == 10.0
    assert rate(10, 10, 1.0) == 0.0
    assert rate(10, 5, 1.0) == 0.0  # a topic deleted and made again meanwhile
    assert rate(10, None, 1.0) is None
    assert rate(10, 20, 0.0) is None
    assert rate(10, 20, None) is None


def test_retention_text() -> None:
    assert retention_text(30 * 86_400_000) == "30d"
    assert retention_text(36 * 3_600_000) == "36h"
    assert retention_text(-1) == "forever"
    assert retention_text(None) == "-"
    assert retention_text(1500) == "1500ms"


def test_the_table_is_aligned_and_compacted_topics_show_as_such() -> None:
    rows = [
        build_row(SHOP_EVENTS, as_declared(), 9_356_624, 9_356_724, 1.0),
        build_row(CUSTOMER_PROFILES, as_declared(CUSTOMER_PROFILES), 25_866),
    ]
    header, events, profiles = text_rows(rows)
    assert header.split() == [
        "topic",
        "partitions",
        "cleanup",
        "retention",
        "end",
        "offsets",
        "records/s",
    ]
    assert events.split() == [SHOP_EVENTS.name, "12", "delete", "30d", "9356724", "100.0"]
    assert profiles.split() == [CUSTOMER_PROFILES.name, "12", "compact", "7d", "25866", "-"]
    assert len({line.index("12") for line in (events, profiles)}) == 1
