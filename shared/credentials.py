"""Credentials at rest: API keys are only ever stored hashed, webhook secrets encrypted.

API keys are random 256-bit tokens, so a plain SHA-256 is the right hash (no password
stretching needed); the key id in front lets us find the row without scanning. Webhook secrets
must be recovered to compute HMACs, so they are encrypted with Fernet under a key derived from
the deployment's secret key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from pydantic import SecretStr

API_KEY_PREFIX = "nk_"
_HEX = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True)
class IssuedApiKey:
    key_id: str
    key: SecretStr
    key_hash: str


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def issue_api_key() -> IssuedApiKey:
    """A new key `nk_<key id>_<secret>`; only its hash is kept."""
    key_id = secrets.token_hex(6)
    key = f"{API_KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
    return IssuedApiKey(key_id=key_id, key=SecretStr(key), key_hash=hash_api_key(key))


def api_key_id(key: str) -> str | None:
    """The key id part of a presented key, or None when it is not shaped like our keys."""
    if not key.startswith(API_KEY_PREFIX):
        return None
    key_id, sep, rest = key[len(API_KEY_PREFIX) :].partition("_")
    if not sep or not rest or len(key_id) != 12 or not _HEX.fullmatch(key_id):
        return None
    return key_id


def api_key_matches(key: str, key_hash: str) -> bool:
    return hmac.compare_digest(hash_api_key(key), key_hash)


def new_webhook_secret() -> SecretStr:
    return SecretStr("whsec_" + secrets.token_urlsafe(32))


class SecretBox:
    """Encrypts and decrypts small secrets with the deployment's secret key."""

    def __init__(self, master_key: SecretStr) -> None:
        digest = hashlib.sha256(b"nudge-secretbox-v1" + master_key.get_secret_value().encode())
        self._fernet = Fernet(base64.urlsafe_b64encode(digest.digest()))

    def seal(self, secret: SecretStr) -> str:
        return self._fernet.encrypt(secret.get_secret_value().encode()).decode()

    def open(self, sealed: str) -> SecretStr:
        try:
            return SecretStr(self._fernet.decrypt(sealed.encode()).decode())
        except InvalidToken as exc:
            raise ValueError("cannot decrypt: wrong NUDGE_SECRET_KEY for this database") from exc
