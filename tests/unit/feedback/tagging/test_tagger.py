"""The shipped dictionary on real sentences in English and Dutch, near misses, languages and
their fallbacks, and the interface the survey and SMS code call."""

from __future__ import annotations

import pytest

from services.feedback.tagging import ShopTagging, Tagger
from services.feedback.tagging.loader import Dictionary, default_dictionary
from services.feedback.tagging.matcher import Matcher
from services.feedback.tagging.model import Words

TAGGER = Tagger()


@pytest.mark.parametrize(
    ("language", "text", "tags"),
    [
        (
            "en",
            "My package arrived late and the box was damaged",
            {"shipping", "packaging", "complaint"},
        ),
        ("en", "Great coffee, fast delivery!", {"praise", "shipping"}),
        ("en", "It took forever to ship and the price is way too high", {"shipping", "price"}),
        ("en", "Customer service never replied to my email", {"support"}),
        ("en", "The website crashed at checkout", {"website"}),
        ("en", "Sturdy mug, excellent quality", {"quality", "praise"}),
        ("en", "I want a refund, the wrong size was sent", {"returns", "product", "complaint"}),
        ("en", "I was charged twice by PayPal", {"payment"}),
        ("en", "Well packed in bubble wrap", {"packaging"}),
        ("en", "Shipping was quick, shipped the same day, ships well", {"shipping"}),
        (
            "nl",
            "Mijn pakket kwam te laat aan en de doos was beschadigd",
            {"shipping", "packaging", "complaint"},
        ),
        ("nl", "Prijs is te hoog", {"price"}),
        ("nl", "De verzending duurde lang, verzonden met PostNL", {"shipping"}),
        ("nl", "Snel bezorgd en heerlijke koffie, echt een aanrader!", {"shipping", "praise"}),
        ("nl", "De klantenservice gaf geen reactie", {"support"}),
        (
            "nl",
            "Het product is niet zoals beschreven, ik wil mijn geld terug",
            {"product", "returns"},
        ),
        ("nl", "Veel te duur voor deze kwaliteit", {"price", "quality"}),
        ("nl", "Ik kon niet inloggen op de website", {"website"}),
        ("nl", "Dubbel afgeschreven via iDEAL", {"payment"}),
        ("nl", "Goed verpakt in noppenfolie", {"packaging"}),
        ("nl", "Slecht: de mok was kapot", {"complaint", "quality"}),
    ],
)
def test_real_sentences(language: str, text: str, tags: set[str]) -> None:
    assert TAGGER.tags("any-shop", language, text) == sorted(tags)


@pytest.mark.parametrize(
    ("language", "text"),
    [
        # "price" is not in "priceless", nor "late" in "chocolate"
        ("en", "Priceless chocolate, as a gift"),
        # "late" is exact (not "lately"), and "ship" never matches inside a word
        ("en", "Lately I worship this relationship"),
        ("en", "Boxing day plans"),  # "box" is exact: not "boxing"
        ("en", "Best regards, Miss Smith"),  # "best" only as "the best"; "missing" is exact
        # "verse" (fresh) is not "verzending"; "laat" marks only in "te laat"
        ("nl", "Verse koffie, laat me weten"),
        ("nl", "Een stuk beter, het kan even duren"),  # "stuk" only in "is stuk"; "duur" is exact
        ("nl", "Een bos bloemen"),  # "boos" is exact: a forest is not a complaint
        ("nl", "Goedemorgen, hoe gaat het?"),
        ("en", ""),
        ("en", "☕️👍🏽🎉"),
        ("en", "!!! ... ???"),
    ],
)
def test_near_misses_get_no_tags(language: str, text: str) -> None:
    assert TAGGER.tags("any-shop", language, text) == []


def test_praise_and_complaint_ignore_negation() -> None:
    """Out of scope, and said so: "not great" is still praise."""
    assert TAGGER.tags("s", "en", "Not great") == ["praise"]
    assert TAGGER.tags("s", "en", "Not happy at all") == ["complaint", "praise"]


def test_case_accents_and_punctuation_do_not_matter() -> None:
    assert TAGGER.tags("s", "en", "DÉLIVERY!!!") == ["shipping"]
    assert TAGGER.tags("s", "nl", "TE... LAAT") == ["shipping"]
    assert TAGGER.tags("s", "nl", "verzónden") == ["shipping"]


def test_a_locale_is_reduced_to_its_language() -> None:
    text = "Prijs is te hoog"
    for locale in ("nl", "nl-NL", "nl_BE", "NL"):
        assert TAGGER.tags("s", locale, text) == ["price"]
    assert TAGGER.tags("s", "en-GB", text) == []  # read as English, it says nothing


def test_an_unknown_language_is_read_as_english() -> None:
    assert TAGGER.tags("s", "de-DE", "Great service") == ["praise", "support"]
    assert TAGGER.tags("s", "de", "Der Preis ist zu hoch") == []


def test_no_language_means_the_shops_language_else_english() -> None:
    dutch = Tagger(shops={"nl-shop": ShopTagging(language="nl")})
    assert dutch.language("nl-shop") == "nl" and dutch.language("other") == "en"
    assert dutch.tags("nl-shop", None, "Prijs is te hoog") == ["price"]
    assert dutch.tags("other", None, "Prijs is te hoog") == []
    assert dutch.tags("other", None, "The price is too high") == ["price"]
    assert dutch.tags("nl-shop", "garbage locale!", "Prijs is te hoog") == ["price"]
    assert dutch.tags("nl-shop", "en", "Prijs is te hoog") == []  # a known language wins
    assert dutch.tags("nl-shop", "de-DE", "The price is too high") == ["price"]  # as English
    assert dutch.tags("nl-shop", "de-DE", "Prijs is te hoog") == []  # not as the shop's Dutch


def test_no_english_and_no_dictionary_for_the_language_means_no_tags() -> None:
    dutch_only = {"price": {"nl": Words(keywords=("prijs",))}}
    tagger = Tagger(dutch_only)
    assert tagger.tags("s", "nl", "prijs") == ["price"]
    assert tagger.tags("s", "fr", "prijs price") == []
    assert tagger.tags("s", None, "prijs price") == []


def test_at_most_twenty_tags_the_most_marked_first() -> None:
    many = {f"tag-{n:02d}": {"en": Words(keywords=(f"word{n}",))} for n in range(30)}
    tagger = Tagger(many)
    text = " ".join(f"word{n}" for n in range(30)) + " word29 word28"
    tags = tagger.tags("s", "en", text)
    assert len(tags) == 20 and tags == sorted(tags)
    assert "tag-29" in tags and "tag-28" in tags  # marked twice: kept
    assert tags[:18] == [f"tag-{n:02d}" for n in range(18)]  # then by name


def test_tags_are_unique_however_often_marked() -> None:
    assert TAGGER.tags("s", "en", "late late late, shipping shipped ships") == ["shipping"]


def test_each_shop_and_language_is_compiled_once(monkeypatch: pytest.MonkeyPatch) -> None:
    compiled: list[str] = []
    real = Matcher.compile

    def counting(dictionary: Dictionary, language: str) -> Matcher:
        compiled.append(language)
        return real(dictionary, language)

    monkeypatch.setattr(Matcher, "compile", counting)
    own = {"coffee": {"en": Words(keywords=("coffee",))}}
    tagger = Tagger(shops={"a": ShopTagging(dictionary=own), "b": ShopTagging(language="nl")})
    for _ in range(3):
        tagger.tags("a", "en", "coffee")
        tagger.tags("b", None, "prijs")
        tagger.tags("c", "en-GB", "price")
        tagger.tags("d", "en", "price")
    assert sorted(compiled) == ["en", "en", "nl"]  # shop a's own; the default's nl and en


def test_long_text_is_tagged() -> None:
    text = "Nothing to report here. " * 400 + "But it arrived late."
    assert len(text) > 5000
    assert TAGGER.tags("s", "en", text) == ["shipping"]


def test_the_shipped_dictionary_has_english_and_dutch_for_every_tag() -> None:
    dictionary = default_dictionary()
    assert {"shipping", "price", "quality", "website", "support", "packaging"} <= set(dictionary)
    for tag, languages in dictionary.items():
        assert set(languages) == {"en", "nl"}, tag
