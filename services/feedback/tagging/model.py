"""The dictionary file format: tags, each with keywords, phrases and exact words per language.

The shipped `default.yaml` (or the deployment's NUDGE_FEEDBACK_TAGS_FILE) is a
`DictionaryFile`; a shop's feedback file (`<shop_id>.yaml` in NUDGE_FEEDBACK_SHOPS_DIR) may
name the shop's `language` and hold a `tags:` section (`TagsSection`) that extends or
replaces it. README.md beside this module describes both with examples.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from services.feedback.tagging.stemming import ALGORITHMS
from services.feedback.tagging.text import words
from shared.events import feedback as fb

MAX_WORD_CHARS = 100
MAX_PHRASE_WORDS = 8
MAX_WORDS = 2000
"""Entries in one list (one tag, one language): far more than a useful dictionary holds."""
MAX_TAGS = 200
"""Tags in one dictionary (an event carries at most 20 of them)."""
TAG_ON: Final = "languages"
TAG_OFF: Final = "switched-off"
"""The two shapes a tag takes in a shop's section (pydantic names them in error paths)."""

_TAG: TypeAdapter[str] = TypeAdapter(fb.Tag)


def _tag_id(value: str) -> str:
    try:
        return _TAG.validate_python(value)
    except ValidationError:
        raise ValueError(
            f"'{value}' is not a tag id: lower-case letters, digits, '-' and '_', "
            "starting with a letter or digit, at most 64 characters"
        ) from None


def _language(value: str) -> str:
    if value not in ALGORITHMS:
        known = ", ".join(sorted(ALGORITHMS))
        raise ValueError(f"'{value}' is not a language code with a stemmer ({known})")
    return value


def _one_word(value: str) -> str:
    found = words(value)
    if not found:
        raise ValueError(f"'{value}' holds no letter or digit")
    if len(found) > 1:
        raise ValueError(f"'{value}' is {len(found)} words: put it under phrases")
    return value


def _phrase(value: str) -> str:
    found = words(value)
    if len(found) < 2:
        raise ValueError(f"'{value}' is not two words or more: put it under keywords")
    if len(found) > MAX_PHRASE_WORDS:
        raise ValueError(f"'{value}' is {len(found)} words; a phrase is {MAX_PHRASE_WORDS} at most")
    return value


TagId = Annotated[str, AfterValidator(_tag_id)]
Language = Annotated[str, AfterValidator(_language)]
"""An ISO 639-1 code Snowball has a stemmer for (`en`, `nl`, `de`...)."""
_Text = Annotated[str, Field(min_length=1, max_length=MAX_WORD_CHARS)]
Keyword = Annotated[_Text, AfterValidator(_one_word)]
Phrase = Annotated[_Text, AfterValidator(_phrase)]


class Words(BaseModel):
    """What marks a tag in one language."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keywords: Annotated[tuple[Keyword, ...], Field(max_length=MAX_WORDS)] = ()
    """Single words, matched by stem: `ship` matches "shipping", "shipped", "ships"."""
    phrases: Annotated[tuple[Phrase, ...], Field(max_length=MAX_WORDS)] = ()
    """Two to eight words in a row, each matched by stem: `took forever`, `te laat`."""
    exact: Annotated[tuple[Keyword, ...], Field(max_length=MAX_WORDS)] = ()
    """Single words matched as written (case and accents folded, not stemmed), for words whose
    stem would also catch others: `package` (its stem is also "packaging"'s), `box` (also
    "boxing"'s), `late` (also "lately"'s)."""

    def is_empty(self) -> bool:
        return not (self.keywords or self.phrases or self.exact)

    def _may_be_empty(self) -> bool:
        return False

    @model_validator(mode="after")
    def _not_empty(self) -> Words:
        if self.is_empty() and not self._may_be_empty():
            raise ValueError("no words: give keywords, phrases or exact words")
        return self


class WordsChange(Words):
    """A shop's words for one tag and language: added to the default's, or replacing them."""

    replace: bool = False
    """True: the default's words for this tag and language are dropped, these used instead
    (none at all: the tag is not found in this language)."""

    def _may_be_empty(self) -> bool:
        return self.replace


Dictionary = dict[TagId, dict[Language, Words]]


class DictionaryFile(BaseModel):
    """`default.yaml`, or the deployment's own default (NUDGE_FEEDBACK_TAGS_FILE)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dictionary: Annotated[Dictionary, Field(max_length=MAX_TAGS)]


def _shape(value: Any) -> str:
    return TAG_OFF if value is False else TAG_ON


TagChange = Annotated[
    Annotated[dict[Language, WordsChange], Tag(TAG_ON)] | Annotated[Literal[False], Tag(TAG_OFF)],
    Discriminator(
        _shape,
        custom_error_type="tag_shape",
        custom_error_message="a tag is a mapping of languages to words, or false to switch it off",
    ),
]


class TagsSection(BaseModel):
    """A shop's `tags:` section."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    extends: Literal["default", "none"] = "default"
    """`default`: the default dictionary with this section's changes; `none`: only the tags
    written here."""
    dictionary: Annotated[dict[TagId, TagChange], Field(max_length=MAX_TAGS)] = Field(
        default_factory=dict
    )


class ShopFile(BaseModel):
    """What tagging reads of a feedback shop file (its other sections are other parts')."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    language: Language | None = None
    """The shop's language: what a text is read as when its writer's language is not known."""
    tags: TagsSection | None = None
