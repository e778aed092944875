"""Carrier keywords: the whole trimmed message, any case, never a substring."""

from __future__ import annotations

import pytest

from services.feedback.sms.keywords import KEYWORDS, Keyword, keyword

OPT_OUT = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]
OPT_IN = ["START", "YES", "UNSTOP"]
HELP = ["HELP", "INFO"]


def variants(word: str) -> list[str]:
    return [
        word,
        word.lower(),
        word.capitalize(),
        word[0].lower() + word[1:],
        f"  {word}  ",
        f"\n{word.lower()}\r\n",
        f"\t{word}",
        f"\u00a0{word}\u200b",  # no-break space before, zero-width space after
        f"\ufeff{word}",  # a byte order mark a keyboard app may add
        "".join(chr(ord(c) + 0xFEE0) for c in word),  # full-width letters
    ]


@pytest.mark.parametrize(
    ("words", "kind"), [(OPT_OUT, Keyword.STOP), (OPT_IN, Keyword.START), (HELP, Keyword.HELP)]
)
def test_every_keyword_in_any_case_and_surrounding_whitespace(
    words: list[str], kind: Keyword
) -> None:
    for word in words:
        for text in variants(word):
            assert keyword(text) is kind, repr(text)


def test_the_lists_are_twilios_and_nothing_else() -> None:
    assert sorted(KEYWORDS) == sorted(OPT_OUT + OPT_IN + HELP)


@pytest.mark.parametrize(
    "text",
    [
        "Stop sending me coupons",
        "stop it",
        "STOP!",
        "stop.",
        "stopp",
        "sstop",
        "S T O P",
        "STOP STOP",
        "please stop",
        "unsubscribe me",
        "yes please",
        "yess",
        "help!",
        "helpdesk",
        "info?",
        "end of story",
        "quite",
        "no",
        "",
        "   ",
        "🛑",
        "STOP 🛑",
        "stöp",
        "\u0455\u0442\u043e\u0440",  # Cyrillic look-alikes of "stop"
        "\u0131NFO",  # a dotless i is not an I
        "cancel\u0301",  # a combining accent makes it another word
    ],
)
def test_near_misses_are_replies(text: str) -> None:
    assert keyword(text) is None
