"""Which Snowball stemmer reads which language, and the language a locale names.

Stems make "shipping", "shipped" and "ships" one word ("ship"), and "prijs" and "prijzen"
close enough to list both. English is Snowball's `english` (Porter2). Dutch is Snowball's
original Dutch stemmer (`dutch_porter`), not the newer `dutch` one: the newer one takes more
off ("verzending" becomes "vers", which is also "fresh", and "kwaliteit" becomes "kwaal",
"ailment"), and a dictionary is better served by stems that merge too little (list both
forms) than by stems that merge words apart. The other languages Snowball stems may be given
dictionaries in shop files; accents are folded before stemming (customers often leave them
out), so for languages whose endings carry accents (French, Spanish...) list the forms that
matter.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Final

import snowballstemmer  # type: ignore[import-untyped]

ALGORITHMS: Final[dict[str, str]] = {
    "ar": "arabic",
    "ca": "catalan",
    "cs": "czech",
    "da": "danish",
    "de": "german",
    "el": "greek",
    "en": "english",
    "eo": "esperanto",
    "es": "spanish",
    "et": "estonian",
    "eu": "basque",
    "fa": "persian",
    "fi": "finnish",
    "fr": "french",
    "ga": "irish",
    "hi": "hindi",
    "hu": "hungarian",
    "hy": "armenian",
    "id": "indonesian",
    "it": "italian",
    "lt": "lithuanian",
    "nb": "norwegian",
    "ne": "nepali",
    "nl": "dutch_porter",
    "nn": "norwegian",
    "no": "norwegian",
    "pl": "polish",
    "pt": "portuguese",
    "ro": "romanian",
    "ru": "russian",
    "sr": "serbian",
    "st": "sesotho",
    "sv": "swedish",
    "ta": "tamil",
    "tr": "turkish",
    "yi": "yiddish",
}
"""ISO 639-1 language codes and the Snowball algorithm for each."""

CACHED_STEMS = 8192
"""Distinct words whose stems one language keeps (texts repeat their words a lot)."""

_LANGUAGE = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*$")


def language_of(locale: str | None) -> str | None:
    """The language a locale names, lower case: `nl-NL`, `nl_BE`, `NL` and `nl` are `nl`;
    None for None, an empty string or anything that is not a locale."""
    if not locale:
        return None
    found = _LANGUAGE.match(locale.strip())
    return found.group(1).lower() if found else None


def stemmer(language: str) -> Callable[[str], str]:
    """A stemming function for `language` (a key of ALGORITHMS), with its own cache.

    Snowball's stemmers keep their working state on the object: each function has its own,
    used under a lock (a synchronous route runs in a thread pool)."""
    algorithm = snowballstemmer.stemmer(ALGORITHMS[language])
    lock = threading.Lock()

    @lru_cache(maxsize=CACHED_STEMS)
    def stem(word: str) -> str:
        with lock:
            return str(algorithm.stemWord(word))

    return stem
