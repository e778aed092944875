"""Segment rules: a small language over profile fields and event counts (see
services/segmenter/segments/README.md), compiled once per file and evaluated per customer.

`SegmentCatalog.load(directory)` reads the shipped segments and the shops' files;
`catalog.for_shop(shop_id).evaluate(subject, now)` answers every segment of the shop.
"""

from services.segmenter.rules.errors import RuleError
from services.segmenter.rules.evaluate import (
    MAX_REASON,
    Rule,
    Verdict,
    compile_rule,
    evaluate,
    expand,
)
from services.segmenter.rules.loader import (
    Answers,
    SegmentCatalog,
    SegmentConfigError,
    ShopSegments,
    default_segments,
    parse_segments,
)
from services.segmenter.rules.subject import Subject
from shared.yaml_source import ConfigIssue

__all__ = [
    "MAX_REASON",
    "Answers",
    "ConfigIssue",
    "Rule",
    "RuleError",
    "SegmentCatalog",
    "SegmentConfigError",
    "ShopSegments",
    "Subject",
    "Verdict",
    "compile_rule",
    "default_segments",
    "evaluate",
    "expand",
    "parse_segments",
]
