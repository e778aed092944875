"""Who is calling: API keys, Shopify HMACs and signed native requests, all constant-time.

Credentials come from an in-memory snapshot of the shop registry, refreshed in the background,
so the request path never waits on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable

from shared.credentials import api_key_id, api_key_matches
from shared.http import problems
from shared.tenancy import AccessSnapshot, ShopAccess

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Nudge-Signature"
MISS_REFRESH_INTERVAL_S = 1.0
MISS_REFRESH_TIMEOUT_S = 2.0
FIRST_LOAD_WAIT_S = 5.0
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


class Access:
    def __init__(
        self,
        load: Callable[[], Awaitable[AccessSnapshot]],
        *,
        refresh_s: float,
        signature_tolerance_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._load = load
        self._refresh_s = refresh_s
        self._tolerance_s = signature_tolerance_s
        self._clock = clock
        self._snapshot: AccessSnapshot | None = None
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
        freshly started worker does not refuse its first requests), else go on without."""
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

    def _current(self) -> AccessSnapshot:
        if self._snapshot is None:
            raise problems.unavailable("shop credentials are not loaded yet", 2)
        return self._snapshot

    async def shop_for_key(self, presented: str) -> ShopAccess:
        """The shop an API key belongs to, or a 401 that does not say which part was wrong."""
        key_id = api_key_id(presented)
        if key_id is None:
            raise problems.unauthorized("invalid API key")
        if key_id not in self._current().key_hashes:
            await self.refresh_on_miss()
        snapshot = self._current()
        entry = snapshot.key_hashes.get(key_id)
        if entry is None or not api_key_matches(presented, entry[1]):
            raise problems.unauthorized("invalid API key")
        shop = snapshot.shops.get(entry[0])
        if shop is None:  # the key's shop is not in this snapshot yet
            raise problems.unauthorized("invalid API key")
        return shop

    async def shop_for_shopify(
        self, shop_domain: str | None, hmac_header: str | None, body: bytes
    ) -> ShopAccess:
        """Verify X-Shopify-Hmac-Sha256 over the raw body before anything parses it."""
        shop, presented = await self.shopify_sender(shop_domain, hmac_header)
        return self.verify_shopify(shop, presented, body)

    async def shopify_sender(
        self, shop_domain: str | None, hmac_header: str | None
    ) -> tuple[ShopAccess, bytes]:
        """The shop a webhook claims to come from, and its signature, checked in form before
        the body is read: only a known shop's webhook makes the server read a body."""
        if not hmac_header:
            raise problems.unauthorized("missing X-Shopify-Hmac-Sha256 header")
        if not shop_domain:
            raise problems.unauthorized("missing X-Shopify-Shop-Domain header")
        domain = shop_domain.strip().lower()
        if domain not in self._current().shopify_domains:
            await self.refresh_on_miss()
        snapshot = self._current()
        shop_id = snapshot.shopify_domains.get(domain)
        shop = snapshot.shops.get(shop_id) if shop_id is not None else None
        if shop is None:
            raise problems.unauthorized("unknown shop domain")
        try:
            presented = base64.b64decode(hmac_header.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise problems.unauthorized("X-Shopify-Hmac-Sha256 is not base64") from None
        if len(presented) != hashlib.sha256().digest_size:
            raise problems.unauthorized("X-Shopify-Hmac-Sha256 is not an HMAC-SHA256")
        return shop, presented

    @staticmethod
    def verify_shopify(shop: ShopAccess, presented: bytes, body: bytes) -> ShopAccess:
        """`shop` when `presented` is its HMAC-SHA256 of the raw body, else a 401."""
        for secret in shop.shopify_secrets or shop.webhook_secrets:
            expected = hmac.new(secret.get_secret_value().encode(), body, hashlib.sha256).digest()
            if hmac.compare_digest(expected, presented):
                return shop
        raise problems.unauthorized("webhook signature does not match")

    def check_signature(self, shop: ShopAccess, header: str | None, body: bytes) -> None:
        """Verify `Nudge-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "t.body">`.

        Required when the shop demands it, checked whenever it is present. The timestamp
        inside the signed text bounds how long a captured request can be replayed.
        """
        if header is None:
            if shop.require_signature:
                raise problems.unauthorized(f"this shop requires a {SIGNATURE_HEADER} header")
            return
        parts: dict[str, list[str]] = {}
        for item in header.split(","):
            name, sep, value = item.strip().partition("=")
            if sep:
                parts.setdefault(name, []).append(value)
        try:
            timestamp = int(parts["t"][0])
        except (KeyError, ValueError):
            raise problems.unauthorized(f"{SIGNATURE_HEADER} has no valid t= timestamp") from None
        if abs(self._clock() - timestamp) > self._tolerance_s:
            raise problems.unauthorized(
                f"{SIGNATURE_HEADER} timestamp is outside the {self._tolerance_s}s tolerance"
            )
        signed = str(timestamp).encode() + b"." + body
        candidates = [c.strip().lower() for c in parts.get("v1", [])]
        candidates = [c for c in candidates if _HEX_SHA256.fullmatch(c)]
        for secret in shop.webhook_secrets:
            expected = hmac.new(secret.get_secret_value().encode(), signed, hashlib.sha256)
            for candidate in candidates:
                if hmac.compare_digest(expected.hexdigest(), candidate):
                    return
        raise problems.unauthorized(f"{SIGNATURE_HEADER} does not match")


def sign_native(secret: str, body: bytes, timestamp: int) -> str:
    """The header value a client sends; used by the demo, the benchmarks and the tests."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def sign_shopify(secret: str, body: bytes) -> str:
    """X-Shopify-Hmac-Sha256 as Shopify computes it."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
