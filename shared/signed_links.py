"""Signed link tokens `<kid>.<payload>.<mac>`: the active link key signs, any key in the ring
verifies, so links in messages already sent keep working across a key rotation until their
key is retired.

The MAC is HMAC-SHA256 (truncated to 128 bits) over the link kind, the key id and the payload,
so a token of one kind (unsubscribe) never verifies as another (survey, click) and a token
whose key id was changed is refused. Payload and MAC are URL-safe base64 without padding; key
ids are lower-case letters, digits, '-' and '_', so a token fits a URL path and an address's
local part as it is.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from shared.keyring import KID_PATTERN, LinkKeys

MAC_BYTES = 16


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, kind: str, kid: str, payload: bytes) -> bytes:
    signed = b"\x1f".join((kind.encode(), kid.encode(), payload))
    return hmac.digest(key, signed, "sha256")[:MAC_BYTES]


def sign(keys: LinkKeys, kind: str, payload: bytes) -> str:
    key = keys.active
    return f"{key.kid}.{_b64(payload)}.{_b64(_mac(key.key, kind, key.kid, payload))}"


def verify(keys: LinkKeys, kind: str, token: str) -> bytes | None:
    """The payload a token of `kind` carries, or None when no key of the ring signed it."""
    parts = token.split(".")
    if len(parts) != 3 or not KID_PATTERN.fullmatch(parts[0]):
        return None
    kid, encoded, signature = parts
    key = keys.get(kid)
    if key is None:
        return None
    try:
        payload, mac = _unb64(encoded), _unb64(signature)
    except (binascii.Error, ValueError):
        return None
    if not hmac.compare_digest(mac, _mac(key.key, kind, kid, payload)):
        return None
    return payload
