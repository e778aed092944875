"""Who is calling, by a shop's API key: one check for every service that takes the keys.

The key comes as `Authorization: Bearer <key>`, or as the user name of HTTP Basic (how
Segment's libraries send their write key). It is checked in constant time against the SHA-256
the shop registry keeps (shared/credentials.py), in an in-memory snapshot of the registry that
is refreshed in the background: a request never waits on PostgreSQL, and a database blip
leaves the last good snapshot in use. An unknown key makes one reload (concurrent misses share
it, at most one a second, bounded in time), so a shop added a moment ago works at once and a
flood of bad keys cannot become a flood of queries.

Ingest's snapshot also holds the shops' webhook secrets (it has the master keys); the feedback
service's reports read only the key hashes (`shared.tenancy.load_api_keys`), never a secret.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Final, Generic, Protocol, TypeVar

from fastapi import Request

from shared.credentials import api_key_id, api_key_matches
from shared.http import problems

log = logging.getLogger(__name__)

MISS_REFRESH_INTERVAL_S: Final = 1.0
MISS_REFRESH_TIMEOUT_S: Final = 2.0
FIRST_LOAD_WAIT_S: Final = 5.0
INVALID_KEY: Final = "invalid API key"


class KeyHashes(Protocol):
    """A snapshot that can check keys: key id -> (shop id, SHA-256 of the key), live keys only
    (a rotated key stays in it until its grace period ends)."""

    @property
    def key_hashes(self) -> Mapping[str, tuple[str, str]]: ...


S = TypeVar("S", bound=KeyHashes)


def presented_key(request: Request) -> str:
    """The API key: `Authorization: Bearer <key>`, or HTTP Basic with the key as user name
    (how Segment's libraries send their write key); a 401 naming what is wrong otherwise."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return value
    if scheme.lower() == "basic" and value:
        try:
            user = base64.b64decode(value, validate=True).decode().partition(":")[0]
        except (binascii.Error, ValueError):  # ValueError: non-ASCII in the header
            raise problems.unauthorized("malformed Basic authorization") from None
        if user:
            return user
    raise problems.unauthorized("missing API key: send 'Authorization: Bearer <key>'")


def key_owner(presented: str, key_hashes: Mapping[str, tuple[str, str]]) -> str | None:
    """The shop whose live key `presented` is, or None (the hash compared in constant time)."""
    key_id = api_key_id(presented)
    entry = key_hashes.get(key_id) if key_id is not None else None
    if entry is None or not api_key_matches(presented, entry[1]):
        return None
    return entry[0]


class CredentialCache(Generic[S]):
    """The registry's snapshot `load` returns, kept fresh every `refresh_s` in the background."""

    def __init__(self, load: Callable[[], Awaitable[S]], *, refresh_s: float) -> None:
        self._load = load
        self._refresh_s = refresh_s
        self._snapshot: S | None = None
        self._task: asyncio.Task[None] | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()
        self._miss_lock = asyncio.Lock()
        self._loaded = asyncio.Event()

    @property
    def ready(self) -> bool:
        return self._snapshot is not None

    async def refresh(self) -> None:
        async with self._lock:
            self._snapshot = await self._load()
            self._loaded_at = time.monotonic()
            self._loaded.set()

    async def refresh_on_miss(self) -> None:
        """Reload when a credential is unknown: a shop added a moment ago works at once.

        Concurrent misses share one reload, and reloads happen at most once a second, so a
        flood of bad keys cannot become a flood of database queries (it only slows itself).
        """
        asked_at = time.monotonic()
        async with self._miss_lock:
            if self._loaded_at > asked_at:
                return
            wait = self._loaded_at + MISS_REFRESH_INTERVAL_S - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                async with asyncio.timeout(MISS_REFRESH_TIMEOUT_S):
                    await self.refresh()
            except Exception:
                log.exception("cannot refresh shop credentials")

    async def start(self) -> None:
        """Load the credentials before serving when the database answers soon enough (so a
        freshly started process does not refuse its first requests), else go on without."""
        self._task = asyncio.create_task(self._refresh_forever())
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(FIRST_LOAD_WAIT_S):
                await self._loaded.wait()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _refresh_forever(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # keep serving with the last good snapshot
                log.exception("cannot refresh shop credentials; keeping the previous ones")
            await asyncio.sleep(self._refresh_s)

    def current(self) -> S:
        """The snapshot in use; 503 (Retry-After) before the first one is loaded."""
        if self._snapshot is None:
            raise problems.unavailable("shop credentials are not loaded yet", 2)
        return self._snapshot

    async def owner_of(self, presented: str) -> tuple[S, str]:
        """The snapshot and the shop an API key belongs to, or a 401 that does not say which
        part was wrong."""
        key_id = api_key_id(presented)
        if key_id is None:
            raise problems.unauthorized(INVALID_KEY)
        if key_id not in self.current().key_hashes:
            await self.refresh_on_miss()
        snapshot = self.current()
        shop_id = key_owner(presented, snapshot.key_hashes)
        if shop_id is None:
            raise problems.unauthorized(INVALID_KEY)
        return snapshot, shop_id
