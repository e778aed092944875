"""The tagger a survey comment goes through: the interface the tagging module implements.

`tags(shop_id, language, text)` gives the comment's tags (shipping, price, quality...) from the
shop's dictionary for `language` (a locale such as `nl-NL`; None: the shop's default). Until a
real one is configured, `NoTags` tags nothing.
"""

from __future__ import annotations

from typing import Protocol


class Tagger(Protocol):
    def tags(self, shop_id: str, language: str | None, text: str) -> list[str]: ...


class NoTags:
    """Tags nothing: the answer is recorded all the same."""

    def tags(self, shop_id: str, language: str | None, text: str) -> list[str]:
        return []
