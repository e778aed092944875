"""The carrier keywords of an inbound SMS: opt-out, opt-in and help.

A keyword is the whole message, trimmed, in any case: "stop" and "  Stop\n" opt out, while
"Stop sending me coupons", "STOP!" and "stopp" are replies like any other. The lists are
Twilio's Advanced Opt-Out defaults (which follow the CTIA's handbook). The text is compared
after Unicode compatibility normalisation (NFKC), so a STOP typed in full-width letters is a
STOP too; what is still not plain ASCII then is never a keyword.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum
from typing import Final


class Keyword(StrEnum):
    STOP = "stop"
    """Opt out of the sender's messages: consent withdrawn."""
    START = "start"
    """Opt back in: consent granted again."""
    HELP = "help"
    """Who is texting, how to stop, and whom to ask: the shop's help text."""


KEYWORDS: Final[dict[str, Keyword]] = {
    **dict.fromkeys(
        ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"),
        Keyword.STOP,
    ),
    **dict.fromkeys(("START", "YES", "UNSTOP"), Keyword.START),
    **dict.fromkeys(("HELP", "INFO"), Keyword.HELP),
}


def _trimmed(text: str) -> str:
    """Without surrounding whitespace or invisible format characters (a zero-width space or
    byte order mark a keyboard may add)."""
    start, end = 0, len(text)
    while start < end and _blank(text[start]):
        start += 1
    while end > start and _blank(text[end - 1]):
        end -= 1
    return text[start:end]


def _blank(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) == "Cf"


def keyword(body: str) -> Keyword | None:
    """The keyword this whole message is, or None for anything else (a reply)."""
    text = _trimmed(unicodedata.normalize("NFKC", body))
    if not text.isascii() or len(text) > 11:
        return None
    return KEYWORDS.get(text.upper())
