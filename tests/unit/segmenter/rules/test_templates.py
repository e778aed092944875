"""Category and brand membership, and segment templates: one segment per category or brand."""

from __future__ import annotations

import pytest

from services.segmenter.profiles.facts import DAY_S
from services.segmenter.profiles.model import Membership, Tally
from services.segmenter.rules import (
    compile_rule,
    default_segments,
    evaluate,
    expand,
    parse_segments,
)
from services.segmenter.rules.templates import SEGMENT_ID, slug, template_of
from tests.unit.segmenter.rules.builders import NOW, answer, days_ago, profile, subject

SHOPPER = profile(
    categories_bought={
        "coffee": Tally(count=3, last_at=days_ago(5)),
        "Tea & Co": Tally(count=1, last_at=days_ago(40)),
    },
    categories_viewed={"mugs": Tally(count=7, last_at=days_ago(1))},
    brands_bought={"Acme": Tally(count=2, last_at=days_ago(5))},
    brands_viewed={"Zeta": Tally(count=1, last_at=days_ago(2))},
)


def test_bought_and_viewed_categories_and_brands() -> None:
    assert answer('bought category "coffee" and viewed category "mugs"', SHOPPER).matched
    assert not answer('bought category "mugs"', SHOPPER).matched
    assert answer('bought brand "Acme" and viewed brand "Zeta"', SHOPPER).matched
    assert not answer('bought brand "acme"', SHOPPER).matched  # names compare exactly
    assert answer('count(bought category "coffee") >= 3', SHOPPER).matched
    assert answer('count(viewed category "mugs") > 6', SHOPPER).matched
    assert answer('count(bought brand "Zeta") = 0', SHOPPER).matched
    reason = answer('bought category "coffee"', SHOPPER).reason
    assert reason == 'bought category "coffee" 3 times'


FANS = compile_rule("fan-{category}", "count(bought category {category}) >= 2")


def test_a_template_answers_once_per_category_the_rule_reads() -> None:
    verdicts = expand(FANS, subject(SHOPPER), NOW)
    assert set(verdicts) == {"fan-coffee", "fan-tea-co"}  # not the viewed `mugs`
    assert verdicts["fan-coffee"].matched
    assert verdicts["fan-coffee"].reason == 'bought category "coffee" 3 times >= 2'
    assert not verdicts["fan-tea-co"].matched
    assert verdicts["fan-tea-co"].reason == 'bought category "Tea & Co" 1 time < 2'


def test_a_template_reads_every_list_its_rule_names() -> None:
    either = compile_rule(
        "into-{category}", "bought category {category} or count(viewed category {category}) > 5"
    )
    verdicts = expand(either, subject(SHOPPER), NOW)
    assert {k for k, v in verdicts.items() if v.matched} == {
        "into-coffee",
        "into-tea-co",
        "into-mugs",
    }
    brands = compile_rule("brand-{brand}-fans", "count(bought brand {brand}) >= 2")
    assert {k: v.matched for k, v in expand(brands, subject(SHOPPER), NOW).items()} == {
        "brand-acme-fans": True
    }


def test_a_template_window_has_its_moment_per_category() -> None:
    recent = compile_rule("recent-{category}", "bought category {category} within 30d")
    verdicts = expand(recent, subject(SHOPPER), NOW)
    assert verdicts["recent-coffee"].changes_at == days_ago(5) + 30 * DAY_S
    assert not verdicts["recent-tea-co"].matched
    assert verdicts["recent-tea-co"].changes_at is None


def test_names_with_one_slug_are_one_segment_in_when_either_is() -> None:
    twins = profile(
        categories_bought={
            "Tea": Tally(count=1, last_at=days_ago(3)),
            "tea": Tally(count=2, last_at=days_ago(3)),
        }
    )
    verdicts = expand(FANS, subject(twins), NOW)
    assert list(verdicts) == ["fan-tea"]
    assert verdicts["fan-tea"].matched


def test_a_membership_whose_category_left_the_profile_is_answered_no() -> None:
    held = profile(
        categories_bought={"coffee": Tally(count=3, last_at=days_ago(5))},
        segments={
            "fan-tea": Membership(since=days_ago(90), rule_version=1),
            "vip": Membership(since=days_ago(90), rule_version=1),
        },
    )
    verdicts = expand(FANS, subject(held), NOW)
    assert set(verdicts) == {"fan-coffee", "fan-tea"}
    assert not verdicts["fan-tea"].matched
    assert verdicts["fan-tea"].changes_at is None
    assert "fan-tea" in verdicts["fan-tea"].reason


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("coffee", "coffee"),
        ("Coffee & Tea", "coffee-tea"),
        ("Crème brûlée", "creme-brulee"),
        ("pet_food.dry", "pet_food.dry"),
        ("--odd--", "odd"),
    ],
)
def test_slugs_are_segment_id_characters(name: str, expected: str) -> None:
    assert slug(name) == expected


def test_slugs_that_would_be_empty_or_too_long_use_a_hash() -> None:
    empty = slug("☕")
    assert len(empty) == 8 and SEGMENT_ID.match(empty)
    assert slug("☕") != slug("🍵")
    template = template_of("fan-{category}")
    assert template is not None
    long_a, long_b = template.member_id("x" * 300 + "a"), template.member_id("x" * 300 + "b")
    assert len(long_a) == 100 and SEGMENT_ID.match(long_a)
    assert long_a != long_b


def test_a_plain_rule_is_evaluated_and_a_template_expanded() -> None:
    with pytest.raises(ValueError, match="template"):
        evaluate(FANS, subject(SHOPPER), NOW)
    with pytest.raises(ValueError, match="not a template"):
        expand(compile_rule("vip", "orders >= 3"), subject(SHOPPER), NOW)


def test_a_shop_answers_each_plain_segment_and_each_expanded_one_with_its_version() -> None:
    shop = parse_segments(
        "segments:\n  fan-{category}:\n    version: 3\n  vip: {version: 2}\n", "shop.yaml"
    )
    held = {"fan-tea": Membership(since=days_ago(90), rule_version=3)}
    answers = shop.evaluate(subject(SHOPPER), NOW, held)
    assert set(answers.verdicts) == set(answers.versions)
    assert {"vip", "lapsed", "fan-coffee", "fan-tea-co", "fan-tea"} <= set(answers.verdicts)
    assert (answers.versions["vip"], answers.versions["fan-coffee"]) == (2, 3)
    assert not answers.verdicts["fan-tea"].matched
    assert shop.rule_for("fan-coffee") is shop.rule_for("fan-tea")
    assert shop.rule_for("vip").version == 2  # type: ignore[union-attr]
    assert shop.rule_for("gone") is None
    assert default_segments().rule_for("fan-coffee").segment_id == "fan-{category}"  # type: ignore[union-attr]
