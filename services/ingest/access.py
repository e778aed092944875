"""Who is calling: API keys, Shopify HMACs and signed native requests, all constant-time.

Credentials come from an in-memory snapshot of the shop registry, refreshed in the background,
so the request path never waits on PostgreSQL (the API-key check and the snapshot's refresh are
shared/http/api_keys.py's, which the feedback service's reports use too).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import re
import time
from collections.abc import Awaitable, Callable

from shared.http import problems
from shared.http.api_keys import INVALID_KEY, CredentialCache
from shared.tenancy import AccessSnapshot, ShopAccess

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Nudge-Signature"
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


class Access(CredentialCache[AccessSnapshot]):
    def __init__(
        self,
        load: Callable[[], Awaitable[AccessSnapshot]],
        *,
        refresh_s: float,
        signature_tolerance_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(load, refresh_s=refresh_s)
        self._tolerance_s = signature_tolerance_s
        self._clock = clock

    async def shop_for_key(self, presented: str) -> ShopAccess:
        """The shop an API key belongs to, or a 401 that does not say which part was wrong."""
        snapshot, shop_id = await self.owner_of(presented)
        shop = snapshot.shops.get(shop_id)
        if shop is None:  # the key's shop is not in this snapshot yet
            raise problems.unauthorized(INVALID_KEY)
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
        if domain not in self.current().shopify_domains:
            await self.refresh_on_miss()
        snapshot = self.current()
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
