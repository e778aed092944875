"""Free text as the tagger reads it: case and accents folded, then split into words.

The same folding applies to the dictionaries' words and to customers' texts, so that "Prijs",
"PRIJS" and "prijs" are one word, "DÉLIVERY" is "delivery", "geërgerd" is "geergerd" and
"ﬁne" (a ligature) is "fine". A word is a run of letters and digits: punctuation, spaces and
symbols (emoji included) separate words and are otherwise ignored; an apostrophe splits too
("didn't" is "didn" "t", in the dictionaries as in the texts). Invisible format characters
(soft hyphens, zero-width spaces and joiners) are dropped before splitting, so they neither
join nor split words.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+")
_DROPPED = frozenset({"Mn", "Me", "Cf"})
"""Combining marks (the accents NFKD takes apart) and invisible format characters."""


def fold(text: str) -> str:
    """Case-folded, compatibility-decomposed, without accents or invisible characters."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if unicodedata.category(c) not in _DROPPED)


def words(text: str) -> list[str]:
    """The folded words of `text`, in order."""
    return _WORD.findall(fold(text))
