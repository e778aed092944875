"""Every mistake in a rule is an error naming the column and the field at fault, never a rule
that is silently false."""

from __future__ import annotations

import pytest

from services.segmenter.rules import RuleError, compile_rule


def error_of(when: str, segment_id: str = "test") -> RuleError:
    with pytest.raises(RuleError) as caught:
        compile_rule(segment_id, when)
    return caught.value


@pytest.mark.parametrize(
    ("when", "column", "field", "words"),
    [
        ("revnue >= 500", 1, "revnue", "unknown field 'revnue' (did you mean 'revenue'?)"),
        ("orders >= 1 and Orders >= 2", 17, "Orders", "unknown field 'Orders'"),
        ("push.clicked >= 1", 1, "push.clicked", "unknown channel 'push'"),
        ("push.last_engaged within 9d", 1, "push.last_engaged", "unknown channel 'push'"),
        ("consent.fax", 1, "consent.fax", "unknown channel 'fax'"),
        ("product.viewed > 3", 1, "product.viewed", "is an event type: count it"),
        ("count(product.seen, 7d) > 1", 7, "product.seen", "unknown event type 'product.seen'"),
        ("lifecycle is risky", 14, "lifecycle", "unknown stage 'risky'"),
        ("lifecycle in [repeat, gone]", 23, "lifecycle", "unknown stage 'gone'"),
        ("has fax", 5, "fax", "unknown field 'fax'"),
    ],
)
def test_unknown_names(when: str, column: int, field: str, words: str) -> None:
    error = error_of(when)
    assert (error.column, error.field) == (column, field)
    assert words in str(error)
    assert f"(column {column})" in str(error)


@pytest.mark.parametrize(
    ("when", "field", "words"),
    [
        ("lifecycle > 3", "lifecycle", "lifecycle is a stage: use =, !=, is, is not or in"),
        ("lifecycle = 3", "lifecycle", "unknown stage '3'"),
        ('orders >= "3"', "orders", "orders is compared with a number"),
        ("revenue >= 5d", "revenue", "an amount in the shop's currency"),
        ("locale = 3", "locale", "a quoted text"),
        ("repeat_interval >= 3", "repeat_interval", "a duration, e.g. repeat_interval <= 30d"),
        ("last_order > 30d", "last_order", "last_order is a time: use `last_order within 30d`"),
        ("last_order", "last_order", "last_order is a time"),
        ("last_order in [1]", "last_order", "last_order is a time"),
        ("consent.sms = 1", "consent.sms", "consent.sms is yes or no"),
        ("has consent.sms", "consent.sms", "consent.sms is yes or no"),
        ("orders", "orders", "orders is a number: compare it"),
        ("lifecycle", "lifecycle", "lifecycle is a stage"),
        ("orders within 30d", "orders", "orders is a number"),
        ("lifecycle within 30d", "lifecycle", "lifecycle is a stage"),
        ('orders starts with "1"', "orders", "orders is a number"),
        ("repeat_interval in [3d]", "repeat_interval", "repeat_interval is a duration"),
        ("count(product.viewed, 7d)", "count", "count(...) needs a comparison"),
        ('count(product.viewed, 7d) > "5"', "count(product.viewed, ...)", "with a number"),
        ("count(product.viewed, 7d) >= 1d", "count(product.viewed, ...)", "with a number"),
        ('count(bought category "x") > 1d', "count(...)", "with a number"),
        ("count(product.viewed, 7d) within 9d", "count", "count(...) is a number"),
        ("count(product.viewed, 7d) in [1, 2]", "count", "count(...) is a number"),
    ],
)
def test_types_that_do_not_fit(when: str, field: str, words: str) -> None:
    error = error_of(when)
    assert error.field == field
    assert words in str(error)
    assert error.column is not None


@pytest.mark.parametrize(
    ("when", "field", "words"),
    [
        ("count(product.viewed, 36h) > 1", None, "whole days, e.g. 7d or 2w (not 36h)"),
        ("count(product.viewed, 401d) > 1", None, "at most 400d"),
        ("count(product.viewed, 2 x repeat_interval else 7d) > 1", None, "fixed number of days"),
        ("last_order within 0d", None, "longer than 0"),
        ("last_order within 0 x repeat_interval else 9d", None, "more than 0"),
        ("last_order within 2 x orders else 9d", "orders", "only repeat_interval can be"),
        ("last_order within 2 x repeat_interval", "repeat_interval", "needs a fallback"),
        (
            "last_order within max(2 x repeat_interval, 3 x repeat_interval)",
            "repeat_interval",
            "needs a fallback",
        ),
        ('bought category "" within 9d', None, "needs a name"),
    ],
)
def test_windows_and_names_that_cannot_be(when: str, field: str | None, words: str) -> None:
    error = error_of(when)
    assert error.field == field
    assert words in str(error)
    assert error.column is not None


@pytest.mark.parametrize(
    ("when", "column", "words"),
    [
        ("orders ! 3", 8, "unexpected '!': expected"),
        ("orders >= >= 3", 11, "unexpected '>='"),
        ("orders >= 3 orders", 13, "unexpected 'orders': expected"),
        ("orders >= 3 orders", 13, "'and', 'or' or the end of the rule"),
        ("orders >= 3 andorders >= 4", 13, "unexpected 'andorders'"),
        ("last_order within 2y", 19, "a duration (12h, 30d, 2w)"),
    ],
)
def test_syntax_errors_say_what_was_expected_where(when: str, column: int, words: str) -> None:
    error = error_of(when)
    assert error.column == column
    assert words in str(error)


@pytest.mark.parametrize("when", ["revenue >=", "(orders > 1", "orders > 1 and"])
def test_a_rule_that_ends_too_early(when: str) -> None:
    assert "the rule ends too early" in str(error_of(when))


def test_the_end_says_what_it_lacks() -> None:
    assert "expected ')', 'and' or 'or'" in str(error_of("(orders > 1"))


def test_an_empty_rule() -> None:
    assert "the rule is empty" in str(error_of("   "))


@pytest.mark.parametrize(
    ("segment_id", "when", "field", "words"),
    [
        ("test", "bought category {category}", "{category}", "belongs in a segment template"),
        ("fan-{category}", "bought category {shop}", "{shop}", "unknown placeholder {shop}"),
        ("fan-{category}", "bought brand {brand}", "{brand}", "write {category}, not {brand}"),
        ("fan-{brand}", "bought category {brand}", "{brand}", "write bought brand {brand}"),
        ("fan-{category}", "orders >= 2", "{category}", "a template's rule names {category}"),
    ],
)
def test_placeholders(segment_id: str, when: str, field: str, words: str) -> None:
    error = error_of(when, segment_id)
    assert error.field == field
    assert words in str(error)


@pytest.mark.parametrize(
    ("segment_id", "words"),
    [
        ("VIP", "a segment id is lowercase"),
        ("fan-{category}-{brand}", "exactly one placeholder"),
        ("fan-{shop}", "unknown placeholder {shop}"),
        ("-{category}", "around its placeholder"),
    ],
)
def test_malformed_ids(segment_id: str, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("{", r"\{").replace("}", r"\}")):
        compile_rule(segment_id, "orders >= 1")
