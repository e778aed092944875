"""Signed unsubscribe tokens: dispatch puts them in every marketing message, feedback honours them.

A token names the shop, the customer and the channel, and carries an HMAC-SHA256 under a key
derived from the deployment's secret key, so the one-click URL (RFC 8058) needs no lookup and
cannot be forged to opt someone else out. Tokens do not expire: an unsubscribe link in an old
email must keep working.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
from dataclasses import dataclass

from pydantic import SecretStr

_CONTEXT = b"nudge/unsubscribe/v1"


@dataclass(frozen=True)
class Unsubscribe:
    shop_id: str
    customer_id: str
    channel: str


def _key(secret: SecretStr) -> bytes:
    return _derived_key(secret.get_secret_value())


@functools.lru_cache(maxsize=4)
def _derived_key(secret: str) -> bytes:
    """Derived once per secret, not once per token: dispatch signs one per marketing message."""
    return hmac.new(secret.encode(), _CONTEXT, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: SecretStr, what: Unsubscribe) -> str:
    payload = "\x1f".join((what.shop_id, what.customer_id, what.channel)).encode()
    mac = hmac.digest(_key(secret), payload, "sha256")[:16]
    return f"{_b64(payload)}.{_b64(mac)}"


def verify(secret: SecretStr, token: str) -> Unsubscribe | None:
    """The unsubscribe a token stands for, or None when it was not signed by us."""
    try:
        encoded, signature = token.split(".", 1)
        payload, mac = _unb64(encoded), _unb64(signature)
        expected = hmac.digest(_key(secret), payload, "sha256")[:16]
        if not hmac.compare_digest(mac, expected):
            return None
        shop_id, customer_id, channel = payload.decode().split("\x1f")
    except (ValueError, UnicodeDecodeError):
        return None
    return Unsubscribe(shop_id, customer_id, channel)
