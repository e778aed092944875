"""Stems that make inflections one word, and locales reduced to their language."""

from __future__ import annotations

import pytest

from services.feedback.tagging.stemming import ALGORITHMS, language_of, stemmer


@pytest.mark.parametrize(
    ("locale", "language"),
    [
        ("nl-NL", "nl"),
        ("nl_BE", "nl"),
        ("NL", "nl"),
        ("en", "en"),
        ("en_GB", "en"),
        ("zh-Hant-TW", "zh"),
        (" de-DE ", "de"),
        ("fil", "fil"),
        (None, None),
        ("", None),
        ("x", None),
        ("english", None),
        ("nl--NL", None),
        ("12", None),
        ("en-GB\x00", None),
    ],
)
def test_a_locale_is_reduced_to_its_language(locale: str | None, language: str | None) -> None:
    assert language_of(locale) == language


def test_english_inflections_share_a_stem() -> None:
    stem = stemmer("en")
    assert {stem(w) for w in ("shipping", "shipped", "ships", "ship")} == {"ship"}
    assert stem("priceless") != stem("price")
    assert stem("prices") == stem("priced") == stem("price")


def test_dutch_inflections_share_a_stem_and_fresh_is_not_shipping() -> None:
    stem = stemmer("nl")
    assert stem("verzending") == stem("verzenden")
    assert stem("bezorging") == stem("bezorgen")
    assert stem("kapotte") == stem("kapot")
    assert stem("verse") != stem("verzending")  # "fresh" (the newer Dutch stemmer merges them)
    assert stem("kwaliteit") == "kwaliteit"  # not "kwaal", an ailment


def test_every_listed_language_has_a_working_stemmer() -> None:
    for language in ALGORITHMS:
        assert stemmer(language)("test")
