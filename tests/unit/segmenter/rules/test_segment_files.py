"""Segment files: the shipped ones, a shop's changes on top of them, and errors that name the
file, the line and the field."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from services.segmenter import segments
from services.segmenter.lifecycle import LifecycleRules
from services.segmenter.rules import (
    SegmentCatalog,
    SegmentConfigError,
    default_segments,
    parse_segments,
)
from services.segmenter.rules.fields import EVENT_TYPES

SHIPPED = {
    "vip",
    "at-risk",
    "lapsed",
    "inactive-90d",
    "first-time-buyers",
    "repeat-buyers",
    "high-aov",
    "fan-{category}",
    "nps-promoters",
    "nps-detractors",
    "sms-engaged",
    "email-engaged",
    "never-engaged",
}


def errors_of(text: str, name: str = "shop.yaml") -> list[str]:
    with pytest.raises(SegmentConfigError) as caught:
        parse_segments(text, name)
    return [str(issue) for issue in caught.value.issues]


def ids(text: str) -> dict[str, int]:
    return {rule.segment_id: rule.version for rule in parse_segments(text, "shop.yaml").rules}


def test_the_shipped_file_has_every_segment_of_the_product() -> None:
    shipped = default_segments()
    assert {rule.segment_id for rule in shipped.rules} == SHIPPED
    assert all(rule.version == 1 and rule.description for rule in shipped.rules)
    assert shipped.currency is None
    assert shipped.lifecycle == LifecycleRules()
    assert len({rule.fingerprint for rule in shipped.rules}) == len(SHIPPED)


def test_a_shop_file_adds_overrides_and_switches_off() -> None:
    shop = parse_segments(
        """\
currency: EUR
lifecycle: {at_risk_after: 2}
rfm: {min_customers: 10}
segments:
  vip: {version: 2, when: orders >= 5 and revenue >= 2000}
  high-aov: {enabled: false}
  coffee-lovers:
    description: Bought coffee in the last 60 days.
    when: bought category "coffee" within 60d
""",
        "acme.yaml",
    )
    rules = {rule.segment_id: rule for rule in shop.rules}
    assert set(rules) == (SHIPPED - {"high-aov"}) | {"coffee-lovers"}
    assert (rules["vip"].version, rules["vip"].when) == (2, "orders >= 5 and revenue >= 2000")
    assert rules["vip"].description == default_segments().rule_for("vip").description  # type: ignore[union-attr]
    assert rules["coffee-lovers"].version == 1
    assert shop.currency == "EUR"
    assert shop.lifecycle.at_risk_after == 2
    assert shop.lifecycle.lapsed_after == LifecycleRules().lapsed_after
    assert shop.rfm.min_customers == 10
    assert shop.rfm.monetary[0] == Decimal(50)


def test_an_empty_shop_file_is_the_shipped_segments() -> None:
    assert parse_segments("", "shop.yaml").fingerprint == default_segments().fingerprint


def test_the_fingerprint_follows_what_can_change_an_answer() -> None:
    base = parse_segments("segments: {vip: {when: orders >= 3}}", "a.yaml").fingerprint
    spaced = parse_segments("segments: {vip: {when: 'orders   >=  3'}}", "a.yaml").fingerprint
    assert spaced == base  # spacing is not meaning
    for changed in (
        "segments: {vip: {when: orders >= 4}}",
        "segments: {vip: {when: orders >= 3, version: 2}}",
        "{currency: EUR, segments: {vip: {when: orders >= 3}}}",
        "{lifecycle: {at_risk_after: 2}, segments: {vip: {when: orders >= 3}}}",
        "{rfm: {min_customers: 10}, segments: {vip: {when: orders >= 3}}}",
        "segments: {vip: {when: orders >= 3}, high-aov: {enabled: false}}",
    ):
        assert parse_segments(changed, "a.yaml").fingerprint != base, changed
    description = "segments: {vip: {when: orders >= 3, description: other words}}"
    assert parse_segments(description, "a.yaml").fingerprint == base


def test_a_rule_error_names_file_line_field_and_column() -> None:
    text = """\
segments:
  vip:
    when: revnue >= 500
"""
    assert errors_of(text, "acme.yaml") == [
        "acme.yaml:3: segments[vip].when: unknown field 'revnue' (did you mean 'revenue'?) "
        "(column 1)"
    ]


def test_a_shipped_rule_overridden_in_part_keeps_its_own_lines() -> None:
    assert errors_of("segments:\n  vip:\n    version: 0\n") == [
        "shop.yaml:3: segments[vip].version: Input should be greater than or equal to 1"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("segments: [", "shop.yaml:1: "),
        ("- a\n- b\n", "shop.yaml:1: a segment file is a mapping"),
        ("segments: {}\nsegments: {}\n", "shop.yaml:2: segments: written twice"),
        ("extends: default\n", "shop.yaml:1: extends: unknown field"),
        ("currency: euro\n", "shop.yaml:1: currency: String should match pattern"),
        (
            "\nlifecycle: {at_risk_after: 4}\n",
            "shop.yaml:2: lifecycle: at_risk_after < lapsed_after",
        ),
        ("lifecycle:\n  soon: 3\n", "shop.yaml:2: lifecycle.soon: unknown field"),
        ("rfm:\n  min_customers: 1\n", "shop.yaml:2: rfm.min_customers: Input should be"),
        ("segments:\n  vip:\n    whne: orders > 1\n", "shop.yaml:3: segments[vip].whne: unknown"),
        ("segments:\n  x: {description: y}\n", "shop.yaml:2: segments[x].when: a segment needs"),
        ("segments:\n  VIP: {when: orders > 1}\n", "shop.yaml:2: segments[VIP]: a segment id is"),
        (
            "segments:\n  fan-club: {when: orders > 1}\n",
            "shop.yaml:2: segments[fan-club]: the template fan-{category} gives this id too",
        ),
        (
            "segments:\n  fan-{brand}:\n    when: bought brand {brand}\n",
            "shop.yaml:2: segments[fan-{brand}]: overlaps the template fan-{category}",
        ),
        (
            "segments:\n  picky:\n    when: >-\n      orders >= 1 and\n      lifecycle > 3\n",
            "shop.yaml:3: segments[picky].when: lifecycle is a stage",
        ),
    ],
)
def test_every_file_error_names_file_line_and_field(text: str, expected: str) -> None:
    found = errors_of(text)
    assert any(issue.startswith(expected) for issue in found), found


def test_a_switched_off_segment_is_not_compiled() -> None:
    assert "vip" not in ids("segments:\n  vip: {enabled: false, when: revnue > 1}\n")


def test_the_catalog_reads_every_shops_file_and_reports_all_errors_together(
    tmp_path: Path,
) -> None:
    (tmp_path / "acme.yaml").write_text("currency: GBP\n")
    (tmp_path / "other.yaml").write_text("segments: {vip: {enabled: false}}\n")
    catalog = SegmentCatalog.load(tmp_path)
    assert catalog.for_shop("acme").currency == "GBP"
    assert "vip" not in {rule.segment_id for rule in catalog.for_shop("other").rules}
    assert catalog.for_shop("nobody") is default_segments()
    assert SegmentCatalog.load(None).for_shop("acme") is default_segments()
    (tmp_path / "bad1.yaml").write_text("currency: x\n")
    (tmp_path / "bad2.yaml").write_text("segments:\n  vip: {when: orders >>= 1}\n")
    with pytest.raises(SegmentConfigError) as caught:
        SegmentCatalog.load(tmp_path)
    assert [issue.file for issue in caught.value.issues] == ["bad1.yaml", "bad2.yaml"]
    assert caught.value.issues[1].line == 2


def test_the_guide_lists_every_event_type_a_rule_may_count() -> None:
    guide = (Path(segments.__file__).parent / "README.md").read_text(encoding="utf-8")
    missing = [kind for kind in sorted(EVENT_TYPES) if f"`{kind}`" not in guide]
    assert missing == []
