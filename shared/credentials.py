"""Credentials at rest: API keys are only ever stored hashed, webhook secrets encrypted.

API keys are random 256-bit tokens, so a plain SHA-256 is the right hash (no password
stretching needed); the key id in front lets us find the row without scanning. Webhook secrets
must be recovered to compute HMACs, so they are encrypted with Fernet under the webhook-secret
key derived from the active master key (shared/keyring.py); a sealed value names that key's id,
`<kid>:<Fernet token>`, so it opens after the key is rotated.
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

from shared.keyring import MasterKeyRing, Purpose

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
    """Seals small secrets under the active master key; opens what any key of the ring sealed.

    Values sealed before key ids existed (a bare Fernet token, no `<kid>:`) were encrypted under
    SHA-256("nudge-secretbox-v1" + master key); they still open, with whichever key of the ring
    was that master key, until `nudge keys reseal` seals them again under the active key.
    """

    def __init__(self, ring: MasterKeyRing) -> None:
        self._ring = ring
        self._fernets = {
            key.kid: Fernet(base64.urlsafe_b64encode(key.derive(Purpose.WEBHOOK_SECRETS)))
            for key in ring.keys
        }
        self._legacy = {key.kid: _legacy_fernet(key.secret) for key in ring.keys}

    @property
    def active_kid(self) -> str:
        return self._ring.active.kid

    def seal(self, secret: SecretStr) -> str:
        token = self._fernets[self.active_kid].encrypt(secret.get_secret_value().encode())
        return f"{self.active_kid}:{token.decode()}"

    def open(self, sealed: str) -> SecretStr:
        return SecretStr(self._open(sealed)[1].decode())

    def sealed_with(self, sealed: str) -> str:
        """The id of the master key that sealed `sealed` (for a value sealed before key ids,
        the key whose old derivation opens it); ValueError when no key of the ring opens it."""
        return self._open(sealed)[0]

    def is_current(self, sealed: str) -> bool:
        """Sealed under the active key, in the current format: nothing to reseal."""
        return sealed.startswith(f"{self.active_kid}:")

    def _open(self, sealed: str) -> tuple[str, bytes]:
        """(key id, plaintext)."""
        kid, sep, token = sealed.partition(":")
        if not sep:
            return self._open_legacy(sealed)
        fernet = self._fernets.get(kid)
        if fernet is None:
            raise ValueError(
                f"a value is sealed with key {kid!r}, which is not in {self._ring.source} "
                f"(keys: {', '.join(self._ring.kids)})"
            )
        try:
            return kid, fernet.decrypt(token.encode())
        except InvalidToken as exc:
            raise ValueError(
                f"cannot decrypt a value sealed with key {kid!r}: {self._ring.source} holds "
                "another secret under that id"
            ) from exc

    def _open_legacy(self, sealed: str) -> tuple[str, bytes]:
        for kid, fernet in self._legacy.items():
            try:
                return kid, fernet.decrypt(sealed.encode())
            except InvalidToken:
                continue
        raise ValueError(
            f"cannot decrypt a value sealed before key ids: no key in {self._ring.source} "
            "is the master key it was sealed with"
        )


def _legacy_fernet(master_key: SecretStr) -> Fernet:
    """The Fernet key of values sealed before key ids (kept only to open them)."""
    digest = hashlib.sha256(b"nudge-secretbox-v1" + master_key.get_secret_value().encode())
    return Fernet(base64.urlsafe_b64encode(digest.digest()))
