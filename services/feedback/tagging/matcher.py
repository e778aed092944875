"""One dictionary compiled for one language: what a text's words are looked up in.

Keywords are kept by stem, exact words as folded, phrases by the stem of their first word;
a text is folded and split once, each word stemmed once (cached), and every position looked
up: time in proportion to the text, whatever the dictionary's size.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from services.feedback.tagging.loader import Dictionary
from services.feedback.tagging.stemming import stemmer
from services.feedback.tagging.text import words

Phrase = tuple[str, ...]


@dataclass(frozen=True)
class Matcher:
    stem: Callable[[str], str]
    keywords: Mapping[str, frozenset[str]]
    """Stem -> the tags it marks."""
    exact: Mapping[str, frozenset[str]]
    """Folded word -> the tags it marks."""
    phrases: Mapping[str, tuple[tuple[Phrase, str], ...]]
    """Stem of a phrase's first word -> (the phrase's stems, its tag)."""

    @classmethod
    def compile(cls, dictionary: Dictionary, language: str) -> Matcher:
        stem = stemmer(language)
        keywords: defaultdict[str, set[str]] = defaultdict(set)
        exact: defaultdict[str, set[str]] = defaultdict(set)
        phrases: defaultdict[str, set[tuple[Phrase, str]]] = defaultdict(set)
        for tag, languages in dictionary.items():
            entry = languages.get(language)
            if entry is None:
                continue
            for word in _single(entry.keywords):
                keywords[stem(word)].add(tag)
            for word in _single(entry.exact):
                exact[word].add(tag)
            for text in entry.phrases:
                stems = tuple(stem(word) for word in words(text))
                phrases[stems[0]].add((stems, tag))
        return cls(
            stem,
            {key: frozenset(tags) for key, tags in keywords.items()},
            {key: frozenset(tags) for key, tags in exact.items()},
            {key: tuple(sorted(found)) for key, found in phrases.items()},
        )

    def hits(self, text: str) -> Counter[str]:
        """How often each tag is marked in `text` (a phrase counts once where it starts)."""
        found = words(text)
        stems = [self.stem(word) for word in found]
        counts: Counter[str] = Counter()
        for position, (word, stem) in enumerate(zip(found, stems, strict=True)):
            counts.update(self.exact.get(word, ()))
            counts.update(self.keywords.get(stem, ()))
            for phrase, tag in self.phrases.get(stem, ()):
                if tuple(stems[position : position + len(phrase)]) == phrase:
                    counts[tag] += 1
        return counts


def _single(entries: Iterable[str]) -> Iterable[str]:
    """The folded word of each single-word entry (validated to be one word)."""
    for entry in entries:
        yield from words(entry)
