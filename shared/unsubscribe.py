"""Signed unsubscribe tokens: dispatch puts them in every marketing message, feedback honours them.

A token names the shop, the customer and the channel, signed with the link keys
(shared/signed_links.py: the key id travels in the token), so the one-click URL (RFC 8058)
needs no lookup and cannot be forged to opt someone else out. Tokens do not expire: an
unsubscribe link in an old email keeps working for as long as the key that signed it stays in
the ring (retire a key only when links that old need not work any more). Tokens signed before
key ids existed (no key id) are refused: no service verified them yet.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared import signed_links
from shared.keyring import LinkKeys

KIND = "unsubscribe"
_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class Unsubscribe:
    shop_id: str
    customer_id: str
    channel: str


def sign(keys: LinkKeys, what: Unsubscribe) -> str:
    payload = _SEPARATOR.join((what.shop_id, what.customer_id, what.channel)).encode()
    return signed_links.sign(keys, KIND, payload)


def verify(keys: LinkKeys, token: str) -> Unsubscribe | None:
    """The unsubscribe a token stands for, or None when no key of the ring signed it."""
    payload = signed_links.verify(keys, KIND, token)
    if payload is None:
        return None
    try:
        shop_id, customer_id, channel = payload.decode().split(_SEPARATOR)
    except (ValueError, UnicodeDecodeError):
        return None
    return Unsubscribe(shop_id, customer_id, channel)
