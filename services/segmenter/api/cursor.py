"""The opaque cursor of a page of a segment's members: where the next page starts.

It holds the segment and the last customer id of the page, base64url-encoded: opaque to
callers (its format may change), checked on the way back (a cursor of another segment, or one
that was never ours, is refused by name). It holds no shop: the caller's API key decides the
shop, so a cursor carried to another shop's key only positions within that shop's own members.
"""

from __future__ import annotations

import base64
import binascii
from typing import Final

from shared.http import problems

FIELD: Final = "query.cursor"
MAX_CHARS: Final = 2048
_VERSION: Final = "1"
_SEPARATOR: Final = "\x1f"


def encode(segment_id: str, after: str) -> str:
    raw = _SEPARATOR.join((_VERSION, segment_id, after)).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(segment_id: str, cursor: str) -> str:
    """The customer id the page starts after; a 422 naming `query.cursor` for anything that is
    not a cursor of this segment's pages."""
    if len(cursor) > MAX_CHARS:
        raise _refused("is not a cursor of this API (too long)")
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        version, segment, after = raw.decode().split(_SEPARATOR, 2)
    except (binascii.Error, ValueError):  # UnicodeDecodeError, too few or many parts
        raise _refused("is not a cursor of this API") from None
    if version != _VERSION or not after or len(after) > 255 or "\x00" in after:
        raise _refused("is not a cursor of this API")
    if segment != segment_id:
        raise _refused("belongs to another segment's pages")
    return after


def _refused(reason: str) -> problems.Problem:
    return problems.invalid("the cursor is not valid", [problems.FieldError(FIELD, reason)])
