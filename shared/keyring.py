"""Master keys with key ids, and the per-purpose keys derived from them (HKDF-SHA256).

A deployment holds a ring of master keys, newest (active) first: the active key seals and signs,
every key in the ring opens and verifies, so a key can be replaced without breaking what the
old one sealed or signed. No master key is ever used directly: each use gets its own key,
derived with HKDF (RFC 5869, the `cryptography` package's implementation) under a label of its
own, so a service handed one purpose's keys learns nothing about another's. Dispatch (and the
feedback service) hold only the derived link keys (`LinkKeys`), never a master key, so they
cannot decrypt the shops' webhook secrets.

Text format, shared by the master ring file and the link keys: one `<kid> <key>` per line,
active first; blank lines and lines starting with `#` are ignored (link keys may also be
separated by commas, for an environment variable).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from pydantic import SecretStr

KID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
KID_RULE = "1-32 lower-case letters, digits, '-' or '_', starting with a letter or digit"
MIN_SECRET_CHARS = 32
SINGLE_KEY_KID = "k0"
"""The key id of the one key given as NUDGE_SECRET_KEY(_FILE); `nudge keys rotate` keeps it
under this id in the ring file it writes, so what it sealed and signed stays readable."""
DERIVED_KEY_BYTES = 32


class Purpose(StrEnum):
    """What a derived key is for; each has its own HKDF label (`info`).

    Link signing is one purpose, not one per link kind (unsubscribe now, survey and click
    links soon): every service that signs one kind signs them all (dispatch) and every service
    that verifies one verifies them all (feedback), so separate keys would protect nothing
    while multiplying the keys an SRE hands out. The kinds are kept apart inside the signature
    instead: the kind is part of the signed bytes (shared/signed_links.py), so a token of one
    kind never verifies as another.
    """

    WEBHOOK_SECRETS = "webhook-secrets"
    """Fernet keys that encrypt the shops' webhook secrets at rest (shared/credentials.py)."""
    LINKS = "links"
    """HMAC keys that sign the links in messages (shared/signed_links.py)."""

    @property
    def label(self) -> bytes:
        return f"nudge/{self.value}/v1".encode()


def hkdf_sha256(
    material: bytes, *, info: bytes, salt: bytes | None = None, length: int = DERIVED_KEY_BYTES
) -> bytes:
    """HKDF-SHA256 (RFC 5869): extract with `salt` (none: zeros), expand with `info`.

    Master keys are random and long, so they need no salt; the label alone separates the uses.
    """
    kdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info)
    return kdf.derive(material)


def check_kid(kid: str, where: str) -> str:
    if not KID_PATTERN.fullmatch(kid):
        raise ValueError(f"{where}: key id {kid!r} must be {KID_RULE}")
    return kid


@dataclass(frozen=True)
class MasterKey:
    kid: str
    secret: SecretStr

    @classmethod
    def generate(cls, kid: str) -> MasterKey:
        return cls(check_kid(kid, "new key"), SecretStr(secrets.token_urlsafe(48)))

    def derive(self, purpose: Purpose) -> bytes:
        return hkdf_sha256(self.secret.get_secret_value().encode(), info=purpose.label)


@dataclass(frozen=True)
class DerivedKey:
    """One purpose's key from one master key, under the master key's id."""

    kid: str
    key: bytes = field(repr=False)


@dataclass(frozen=True)
class MasterKeyRing:
    """The deployment's master keys, active first; `source` names the setting they came from."""

    keys: tuple[MasterKey, ...]
    source: str = field(compare=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError(f"{self.source}: no keys")
        seen: dict[str, str] = {}
        for key in self.keys:
            check_kid(key.kid, self.source)
            value = key.secret.get_secret_value()
            if len(value) < MIN_SECRET_CHARS:
                raise ValueError(
                    f"{self.source}: key {key.kid!r} must be at least {MIN_SECRET_CHARS} "
                    "characters long"
                )
            if key.kid in seen:
                raise ValueError(f"{self.source}: key id {key.kid!r} appears twice")
            if value in seen.values():
                raise ValueError(f"{self.source}: key {key.kid!r} repeats another key's secret")
            seen[key.kid] = value

    @classmethod
    def single(cls, secret: SecretStr, source: str) -> MasterKeyRing:
        """One key, as NUDGE_SECRET_KEY(_FILE) gives it, under the id `k0`."""
        return cls((MasterKey(SINGLE_KEY_KID, secret),), source)

    @classmethod
    def parse(cls, text: str, source: str) -> MasterKeyRing:
        keys = [MasterKey(kid, SecretStr(value)) for kid, value in _entries(text, source)]
        return cls(tuple(keys), source)

    @property
    def active(self) -> MasterKey:
        return self.keys[0]

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(k.kid for k in self.keys)

    def get(self, kid: str) -> MasterKey | None:
        return next((k for k in self.keys if k.kid == kid), None)

    def derive(self, purpose: Purpose) -> tuple[DerivedKey, ...]:
        return tuple(DerivedKey(k.kid, k.derive(purpose)) for k in self.keys)

    def link_keys(self) -> LinkKeys:
        return LinkKeys(self.derive(Purpose.LINKS), f"links derived from {self.source}")

    def rotated(self, new: MasterKey) -> MasterKeyRing:
        """The ring with `new` as the active key, the others kept to open and verify."""
        return MasterKeyRing((new, *self.keys), self.source)

    def without(self, kid: str) -> MasterKeyRing:
        if kid not in self.kids:
            raise ValueError(f"no key {kid!r} in {self.source} (keys: {', '.join(self.kids)})")
        if kid == self.active.kid:
            raise ValueError(f"{kid!r} is the active key: rotate first, then reseal")
        return MasterKeyRing(tuple(k for k in self.keys if k.kid != kid), self.source)

    def to_text(self) -> str:
        lines = ["# Nudge master keys: `<kid> <secret>` per line, the active key first."]
        lines += [f"{k.kid} {k.secret.get_secret_value()}" for k in self.keys]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class LinkKeys:
    """The keys that sign and verify links (unsubscribe, later surveys and clicks), active
    first: what dispatch and feedback hold instead of the master keys."""

    keys: tuple[DerivedKey, ...]
    source: str = field(compare=False)

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError(f"{self.source}: no keys")
        kids = [check_kid(k.kid, self.source) for k in self.keys]
        if len(set(kids)) != len(kids):
            raise ValueError(f"{self.source}: a key id appears twice")
        for key in self.keys:
            if len(key.key) != DERIVED_KEY_BYTES:
                raise ValueError(f"{self.source}: key {key.kid!r} is not {DERIVED_KEY_BYTES} bytes")

    @classmethod
    def parse(cls, text: str, source: str) -> LinkKeys:
        keys = []
        for kid, value in _entries(text.replace(",", "\n"), source):
            try:
                raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) != DERIVED_KEY_BYTES:
                raise ValueError(
                    f"{source}: key {kid!r} is not a {DERIVED_KEY_BYTES}-byte key in URL-safe "
                    "base64 (print the keys with `nudge keys derive links`)"
                )
            keys.append(DerivedKey(kid, raw))
        return cls(tuple(keys), source)

    @property
    def active(self) -> DerivedKey:
        return self.keys[0]

    def get(self, kid: str) -> DerivedKey | None:
        return next((k for k in self.keys if k.kid == kid), None)

    def to_text(self) -> str:
        encoded = (base64.urlsafe_b64encode(k.key).rstrip(b"=").decode() for k in self.keys)
        return "".join(f"{k.kid} {e}\n" for k, e in zip(self.keys, encoded, strict=True))


def _entries(text: str, source: str) -> list[tuple[str, str]]:
    """(kid, value) per non-blank, non-comment line; errors name the line, never its value."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        kid, _sep, value = line.partition(" ")
        value = value.strip()
        where = f"{source} line {number}"
        check_kid(kid, where)
        if not value:
            raise ValueError(f"{where}: expected `<kid> <key>`, found only a key id")
        entries.append((kid, value))
    return entries


def default_kid(taken: tuple[str, ...], today: datetime | None = None) -> str:
    """`k<yyyymmdd>` of today (UTC), with `-2`, `-3`... when that id is taken."""
    base = f"k{(today or datetime.now(UTC)):%Y%m%d}"
    kid, n = base, 1
    while kid in taken:
        n += 1
        kid = f"{base}-{n}"
    return kid


def read_ring_file(path: Path, setting: str) -> MasterKeyRing:
    source = f"{setting} ({path})"
    try:
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"{source}: cannot read the key ring: {exc.strerror}") from None
    return MasterKeyRing.parse(text, source)


def write_ring_file(path: Path, ring: MasterKeyRing) -> None:
    """Replace `path` with the ring, readable by its owner only, in one rename: a service that
    reads the file meanwhile sees the old ring or the new one, never half of either."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:  # mkstemp creates it with mode 0600
            out.write(ring.to_text())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
