"""Click tracking in plain text: an email's text part and an SMS.

A link in text is a word (between whitespace) that starts with `http://` or `https://`, the
rule Twilio's link shortening applies to SMS; brackets and quotes around it and the sentence's
punctuation after it ("see https://shop.example/cart.") are not part of it, a closing bracket
the link itself opened is (`https://en.wikipedia.org/wiki/Java_(language)`). Each link goes
through `track`, which leaves alone what it must not rewrite (the feedback service's own
links, anything that is not a clean absolute URL).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

_WORD_WITH_LINK: Final = re.compile(r"\S*https?://\S*", re.IGNORECASE)
"""A word that has a link in it: only those are looked at (most words are not)."""
_SCHEMES: Final = ("http://", "https://")
_OPENING: Final = "(<[{\"'"
_TRAILING: Final = ".,;:!?\"'"
_PAIRS: Final = {")": "(", "]": "[", ">": "<", "}": "{"}


def _link_span(word: str) -> tuple[int, int]:
    """Where the link inside `word` starts and ends (it may be empty, or no link)."""
    start, end = 0, len(word)
    while start < end and word[start] in _OPENING:
        start += 1
    while end > start:
        last = word[end - 1]
        opening = _PAIRS.get(last)
        if last in _TRAILING or (
            opening is not None and word.count(opening, start, end) < word.count(last, start, end)
        ):
            end -= 1
            continue
        break
    return start, end


def rewrite(text: str, track: Callable[[str], str]) -> str:
    """`text` with each link replaced by what `track` makes of it."""

    def replace(match: re.Match[str]) -> str:
        word = match.group()
        start, end = _link_span(word)
        if not word[start : start + 8].lower().startswith(_SCHEMES):
            return word
        return word[:start] + track(word[start:end]) + word[end:]

    return _WORD_WITH_LINK.sub(replace, text)
