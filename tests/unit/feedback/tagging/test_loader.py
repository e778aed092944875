"""Dictionary files: a shop's file extends, overrides or replaces the default; every mistake is
found at load, naming the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.feedback.tagging import TagConfigError, Tagger
from services.feedback.tagging.loader import (
    default_dictionary,
    load_shops,
    parse_dictionary,
    parse_shop,
)

DEMO_SHOPS = Path(__file__).parents[4] / "deploy" / "local" / "demo" / "feedback-shops"


def shop_tagger(tmp_path: Path, text: str, shop: str = "acme") -> Tagger:
    (tmp_path / f"{shop}.yaml").write_text(text, encoding="utf-8")
    return Tagger.load(tmp_path)


def problems(text: str, name: str = "acme.yaml") -> list[str]:
    with pytest.raises(TagConfigError) as caught:
        parse_shop(text, name, default_dictionary())
    return [str(issue) for issue in caught.value.issues]


def test_a_shop_adds_words_and_tags_to_the_default(tmp_path: Path) -> None:
    tagger = shop_tagger(
        tmp_path,
        """
sms: {brand: Acme}                 # another part's section, left alone
language: nl
tags:
  dictionary:
    shipping:
      nl:
        keywords: [brievenbuspakje]
    coffee:
      en: {keywords: [coffee, beans]}
      nl: {keywords: [koffie], exact: [bonen]}
""",
    )
    assert tagger.tags("acme", None, "Het brievenbuspakje kwam te laat") == ["shipping"]
    assert tagger.tags("acme", "en", "Great coffee, fast delivery!") == [
        "coffee",
        "praise",
        "shipping",
    ]
    assert tagger.tags("acme", "nl", "Lekkere bonen") == ["coffee", "praise"]
    assert tagger.tags("other", "en", "Great coffee, fast delivery!") == ["praise", "shipping"]
    assert tagger.tags("other", "nl", "Het brievenbuspakje kwam") == []  # acme's word only


def test_a_shop_replaces_a_tags_words_and_switches_tags_off(tmp_path: Path) -> None:
    tagger = shop_tagger(
        tmp_path,
        """
tags:
  dictionary:
    price:
      en:
        replace: true
        keywords: [expensive]
      nl:
        replace: true
    website: false
""",
    )
    assert tagger.tags("acme", "en", "The price is fine") == []
    assert tagger.tags("acme", "en", "Too expensive") == ["price"]
    assert tagger.tags("acme", "nl", "Prijs is te hoog") == []  # no Dutch words left
    assert tagger.tags("acme", "en", "The website crashed") == []
    assert tagger.tags("acme", "en", "The website is great") == ["praise"]
    assert Tagger().tags("acme", "en", "The price is fine") == ["price"]


def test_a_shop_may_write_its_whole_dictionary(tmp_path: Path) -> None:
    tagger = shop_tagger(
        tmp_path,
        """
tags:
  extends: none
  dictionary:
    beans:
      de: {keywords: [Bohne], phrases: [frisch geröstet]}
""",
    )
    assert tagger.tags("acme", "de-AT", "Frische Bohnen, frisch geröstet!") == ["beans"]
    assert tagger.tags("acme", "en", "It arrived late and the box was damaged") == []


def test_a_shop_file_without_tags_keeps_the_default_and_may_name_its_language(
    tmp_path: Path,
) -> None:
    (tmp_path / "plain.yaml").write_text("sms: {brand: Plain}\n")
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "dutch.yaml").write_text("language: nl\n")
    tagger = Tagger.load(tmp_path)
    assert tagger.tags("plain", None, "The price is fine") == ["price"]
    assert tagger.tags("dutch", None, "Prijs is te hoog") == ["price"]
    assert set(load_shops(tmp_path, default_dictionary())) == {"dutch"}


def test_yes_no_and_numbers_are_words() -> None:
    found = parse_shop(
        "tags:\n  extends: none\n  dictionary:\n    answers:\n"
        "      en: {keywords: [no, yes, 404], phrases: [on 2026-01-01]}\n",
        "acme.yaml",
        default_dictionary(),
    )
    assert found.dictionary is not None
    words = found.dictionary["answers"]["en"]
    assert words.keywords == ("no", "yes", "404") and words.phrases == ("on 2026-01-01",)
    tagger = Tagger(shops={"acme": found})
    assert tagger.tags("acme", "en", "No, error 404") == ["answers"]


def test_the_deployments_own_default_replaces_the_shipped_one(tmp_path: Path) -> None:
    own = tmp_path / "deployment.yaml"
    own.write_text("dictionary:\n  beans:\n    en: {keywords: [bean]}\n")
    shops = tmp_path / "shops"
    shops.mkdir()
    (shops / "acme.yaml").write_text("tags: {dictionary: {roast: {en: {keywords: [roast]}}}}\n")
    tagger = Tagger.load(shops, own)
    assert tagger.tags("acme", "en", "beans, roasted, price") == ["beans", "roast"]
    assert tagger.tags("other", "en", "beans, roasted, price") == ["beans"]


def test_the_demo_shops_file_loads_and_tags_coffee() -> None:
    tagger = Tagger.load(DEMO_SHOPS)
    assert tagger.language("demo-coffee") == "nl"
    assert tagger.tags("demo-coffee", None, "Heerlijke koffie, snel bezorgd!") == [
        "coffee",
        "praise",
        "shipping",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "tags:\n  dictionary:\n    shipping:\n      nl:\n        keywords: [te laat]\n",
            "acme.yaml:5: tags.dictionary[shipping].nl.keywords[0]: "
            "'te laat' is 2 words: put it under phrases",
        ),
        (
            "tags:\n  dictionary:\n    shipping:\n      en:\n        phrases:\n"
            "          - took forever\n          - late\n",
            "acme.yaml:7: tags.dictionary[shipping].en.phrases[1]: "
            "'late' is not two words or more: put it under keywords",
        ),
        (
            "tags:\n  dictionary:\n    shipping:\n      en: {exact: ['!!!']}\n",
            "acme.yaml:4: tags.dictionary[shipping].en.exact[0]: '!!!' holds no letter or digit",
        ),
        (
            "language: xx\n",
            "acme.yaml:1: language: 'xx' is not a language code with a stemmer",
        ),
        (
            "tags:\n  dictionary:\n    shipping:\n      english: {keywords: [ship]}\n",
            "acme.yaml:4: tags.dictionary[shipping].english: "
            "'english' is not a language code with a stemmer",
        ),
        (
            "tags:\n  dictionary:\n    Coffee:\n      en: {keywords: [coffee]}\n",
            "acme.yaml:3: tags.dictionary[Coffee]: 'Coffee' is not a tag id",
        ),
        (
            "tags:\n  dictionary:\n    shipping: true\n",
            "acme.yaml:3: tags.dictionary[shipping]: "
            "a tag is a mapping of languages to words, or false to switch it off",
        ),
        (
            "tags:\n  dictionary:\n    shipping:\n      en: {keyword: [ship]}\n",
            "acme.yaml:4: tags.dictionary[shipping].en.keyword: unknown field",
        ),
        (
            "tags:\n  dictionary:\n    shipping:\n      en: {}\n",
            "acme.yaml:4: tags.dictionary[shipping].en: "
            "no words: give keywords, phrases or exact words",
        ),
        (
            "tags:\n  extends: defaults\n",
            "acme.yaml:2: tags.extends: Input should be 'default' or 'none', got 'defaults'",
        ),
        (
            "tags:\n  dictionary:\n    beans: false\n",
            "acme.yaml:3: tags.dictionary[beans]: "
            "the default dictionary has no tag 'beans' to switch off",
        ),
        (
            "tags:\n  extends: none\n  dictionary:\n    price: false\n",
            "acme.yaml:4: tags.dictionary[price]: "
            "nothing to switch off: the section does not extend the default",
        ),
        (
            "tags:\n  dictionary:\n    price:\n      en: {keywords: [cost]}\n"
            "    price:\n      nl: {keywords: [kosten]}\n",
            "acme.yaml:5: tags.dictionary[price]: written twice in the same mapping",
        ),
        ("tags: [price]\n", "acme.yaml:1: tags: Input should be a valid dictionary"),
        ("- language\n", "acme.yaml:1: the file is not a mapping"),
        ("tags:\n  dictionary: {price: [\n", "acme.yaml:3: "),
    ],
)
def test_a_mistake_names_the_file_line_and_field(text: str, expected: str) -> None:
    found = problems(text)
    assert len(found) == 1, found
    assert found[0].startswith(expected), found[0]


def test_every_mistake_of_every_file_is_reported_at_once(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(
        "language: xx\ntags:\n  dictionary:\n    price:\n      en: {keywords: [too much]}\n"
    )
    (tmp_path / "b.yaml").write_text("tags: {dictionary: {BAD: false}}\n")
    (tmp_path / "good.yaml").write_text("language: nl\n")
    with pytest.raises(TagConfigError) as caught:
        Tagger.load(tmp_path)
    message = str(caught.value)
    lines = message.splitlines()
    assert len(lines) == 3, message
    assert lines[0].startswith("a.yaml:1: language:")
    assert lines[1].startswith("a.yaml:5: tags.dictionary[price].en.keywords[0]:")
    assert lines[2].startswith("b.yaml:1: tags.dictionary[BAD]:")


def test_other_sections_duplicates_are_their_owners_business() -> None:
    found = parse_shop("sms: {brand: A, brand: B}\nlanguage: nl\n", "acme.yaml", {})
    assert found.language == "nl"


def test_a_default_file_holds_only_a_dictionary() -> None:
    with pytest.raises(TagConfigError) as caught:
        parse_dictionary("extends: default\ndictionary: {}\n", "own.yaml")
    assert str(caught.value) == "own.yaml:1: extends: unknown field"
    with pytest.raises(TagConfigError) as caught:
        parse_dictionary("dictionary:\n  price: false\n", "own.yaml")
    assert str(caught.value).startswith("own.yaml:2: dictionary[price]: ")
    with pytest.raises(TagConfigError) as caught:
        parse_dictionary("dictionary:\n  price:\n    en: {replace: true}\n", "own.yaml")
    assert str(caught.value) == "own.yaml:3: dictionary[price].en.replace: unknown field"
    with pytest.raises(TagConfigError) as caught:
        parse_dictionary("", "own.yaml")
    assert str(caught.value) == "own.yaml: dictionary: required"
