"""A/B assignment: stable per customer and step, proportional to the weights."""

from __future__ import annotations

from collections import Counter

from services.triggers.campaigns import Variant
from services.triggers.journeys.variants import choose_variant

VARIANTS = [Variant(id="newest", weight=3), Variant(id="personal", weight=1)]


def pick(customer_id: str, step: str = "offer") -> str:
    chosen = choose_variant(VARIANTS, "acme", customer_id, "win_back", step)
    assert chosen is not None
    return chosen.id


def test_the_same_customer_always_gets_the_same_variant() -> None:
    assert {pick("c-42") for _ in range(10)} == {pick("c-42")}


def test_the_split_follows_the_weights() -> None:
    counts = Counter(pick(f"c-{n}") for n in range(20_000))
    assert abs(counts["newest"] / 20_000 - 0.75) < 0.02


def test_steps_are_assigned_independently() -> None:
    same = sum(pick(f"c-{n}", "a") == pick(f"c-{n}", "b") for n in range(2_000))
    assert 1_000 < same < 1_500  # 0.75^2 + 0.25^2 = 62.5% agree by chance


def test_no_variants_no_assignment() -> None:
    assert choose_variant([], "acme", "c-1", "win_back", "offer") is None
