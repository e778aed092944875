"""Which URLs a tracked click may send a browser to: one rule for dispatch, which signs only
such targets (anything else stays as the template wrote it, untracked), and for the feedback
service, which redirects only to such targets (anything else is refused, even when signed).

A target is an absolute `http` or `https` URL with a host and no user name or password, in
printable ASCII without spaces or backslashes, at most `MAX_LENGTH` characters. What that
keeps out: other schemes (`javascript:`, `data:`, `mailto:`), scheme-relative `//host` and
relative paths, `https://shop.example@evil.example` (a host hidden behind credentials), and
the backslash and control-character forms that a browser and Python's URL parser read as
different hosts (`https://shop.example\\@evil.example`); and nothing can break out of the
`Location` header. Links carried by events are already in this form (pydantic normalises
them: punycode hosts, percent-encoded paths).
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

MAX_LENGTH: Final = 2048
"""What a `message.clicked` event keeps of the target (and what browsers reliably follow)."""
SCHEMES: Final = frozenset({"http", "https"})


def redirectable(url: str) -> bool:
    """Whether a click may redirect to `url` (the rule above)."""
    if not url or len(url) > MAX_LENGTH or not url.isascii() or not url.isprintable():
        return False
    if " " in url or "\\" in url:
        return False
    scheme, separator, _ = url.partition("://")
    if not separator or scheme.lower() not in SCHEMES:
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return False
    return bool(parts.hostname) and parts.username is None and parts.password is None
