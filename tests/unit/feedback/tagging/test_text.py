"""Text as the tagger reads it: folded case and accents, words split on everything else."""

from __future__ import annotations

from services.feedback.tagging.text import fold, words


def test_case_and_accents_are_folded() -> None:
    assert words("DÉLIVERY Geërgerd één Straße") == ["delivery", "geergerd", "een", "strasse"]
    assert fold("Café") == fold("cafe") == "cafe"


def test_ligatures_and_full_width_letters_are_plain_letters() -> None:
    assert words("\ufb01ne \uff50\uff52\uff49\uff43\uff45") == ["fine", "price"]  # ﬁ, full width


def test_punctuation_and_emoji_separate_words_and_are_dropped() -> None:
    assert words("Great coffee,fast delivery!!! ☕️👍🏽 (5/5)") == [
        "great",
        "coffee",
        "fast",
        "delivery",
        "5",
        "5",
    ]
    assert words("👍🏽☕️…") == []


def test_apostrophes_and_hyphens_split_words() -> None:
    assert words("didn't arrive, e-mail") == ["didn", "t", "arrive", "e", "mail"]
    assert words("didn\u2019t") == ["didn", "t"]  # a typographic apostrophe


def test_invisible_characters_neither_join_nor_split_words() -> None:
    assert words("ship\u00adping deli\u200bvery") == ["shipping", "delivery"]


def test_underscores_and_control_characters_separate() -> None:
    assert words("price_tag\x00late\nbox") == ["price", "tag", "late", "box"]
