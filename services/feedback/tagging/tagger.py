"""`Tagger.tags(shop_id, language, text)`: the tags of a piece of free text, for a shop.

The language is a locale (`nl-NL`, `nl`, `en_GB`...) reduced to its language. When it is not
known (None, empty, not a locale), the shop's `language` from its feedback file is used, else
English. A language the shop's dictionary has no words for is read as English (customers
whose language Nudge has no dictionary for often write English), and when the dictionary has
no English either, the text gets no tags. Each shop and language is compiled once, on first
use, and kept.

At most 20 tags come back (what an event carries): the ones marked most often, ties by
name, then sorted by name. Negation is not understood: "not great" is marked `praise` (and
`complaint` only where the dictionary lists the phrase "not great").
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

from services.feedback.tagging.loader import (
    Dictionary,
    ShopTagging,
    default_dictionary,
    load_dictionary,
    load_shops,
)
from services.feedback.tagging.matcher import Matcher
from services.feedback.tagging.stemming import language_of

FALLBACK_LANGUAGE: Final = "en"
MAX_TAGS: Final = 20
"""As many as `reply.received` and `survey.answered` carry (shared/events/feedback.py)."""
_DEFAULT = ""
"""The cache's name for the default dictionary (no shop id is empty)."""


class Tagger:
    def __init__(
        self, default: Dictionary | None = None, shops: Mapping[str, ShopTagging] | None = None
    ) -> None:
        """`default`: the dictionary of shops without their own (the shipped one if None);
        `shops`: what each shop's file says (see `load`)."""
        self._default = default if default is not None else default_dictionary()
        self._shops = dict(shops or {})
        self._languages: dict[str, frozenset[str]] = {}
        self._compiled: dict[tuple[str, str], Matcher] = {}

    @classmethod
    def load(cls, shops_dir: Path | None, default_file: Path | None = None) -> Tagger:
        """The default dictionary (`default_file`, else the shipped one) and every shop
        file's language and `tags:` section; raises TagConfigError naming every mistake."""
        default = load_dictionary(default_file) if default_file else default_dictionary()
        return cls(default, load_shops(shops_dir, default))

    def language(self, shop_id: str) -> str:
        """The shop's language: what a text is read as when its writer's is not known."""
        shop = self._shops.get(shop_id)
        return shop.language if shop is not None and shop.language else FALLBACK_LANGUAGE

    def tags(self, shop_id: str, language: str | None, text: str) -> list[str]:
        """The tags `text` is marked with in `shop_id`'s dictionary: sorted, unique, at most
        20; `language` a locale or None (see the module)."""
        matcher = self._matcher(shop_id, language)
        if matcher is None:
            return []
        counts = matcher.hits(text)
        most = sorted(counts, key=lambda tag: (-counts[tag], tag))[:MAX_TAGS]
        return sorted(most)

    def _matcher(self, shop_id: str, language: str | None) -> Matcher | None:
        shop = self._shops.get(shop_id)
        owner, dictionary = _DEFAULT, self._default
        if shop is not None and shop.dictionary is not None:
            owner, dictionary = shop_id, shop.dictionary
        available = self._languages.get(owner)
        if available is None:
            available = frozenset(lang for entry in dictionary.values() for lang in entry)
            self._languages[owner] = available
        wanted = language_of(language) or self.language(shop_id)
        chosen = wanted if wanted in available else FALLBACK_LANGUAGE
        if chosen not in available:
            return None
        found = self._compiled.get((owner, chosen))
        if found is None:
            found = self._compiled[(owner, chosen)] = Matcher.compile(dictionary, chosen)
        return found
