"""The shop registry: who may send events, with which key, signed with which secret.

Writes happen through `nudge shops add|rotate|list`; the ingest service reads a snapshot of all
credentials and refreshes it in the background, so the request path never waits on the
database and keeps working through a database blip.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared.credentials import SecretBox, issue_api_key, new_webhook_secret
from shared.db.tables import ApiKeyRow, ShopRow

log = logging.getLogger(__name__)

SHOP_ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")
DEFAULT_RATE_LIMIT_PER_S = 5_000


class ShopError(ValueError):
    """A registry request that cannot be carried out (unknown shop, duplicate id...)."""


@dataclass(frozen=True)
class ShopCredentials:
    """What the shop's owner must keep: shown once, never stored in clear."""

    shop_id: str
    api_key: SecretStr
    webhook_secret: SecretStr


@dataclass(frozen=True)
class ShopSummary:
    shop_id: str
    name: str
    shopify_domain: str | None
    rate_limit_per_s: int
    require_signature: bool
    active_keys: int
    created_at: datetime


@dataclass(frozen=True)
class ShopAccess:
    """One shop as ingest sees it: its webhook secrets (newest first) and limits."""

    shop_id: str
    shopify_domain: str | None
    webhook_secrets: tuple[SecretStr, ...]
    rate_limit_per_s: int
    require_signature: bool
    shopify_secrets: tuple[SecretStr, ...] = ()
    """What Shopify signs with; until one is set, the shop's own webhook secrets."""


@dataclass(frozen=True)
class AccessSnapshot:
    """Everything ingest needs to authenticate requests, loaded in one go."""

    shops: dict[str, ShopAccess] = field(default_factory=dict)
    key_hashes: dict[str, tuple[str, str]] = field(default_factory=dict)
    """key id -> (shop id, SHA-256 of the key), only keys that have not expired."""
    shopify_domains: dict[str, str] = field(default_factory=dict)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ApiKeySnapshot:
    """What checking API keys needs, and nothing sealed: read without the master keys, by
    services that must never hold them (the feedback service's reports)."""

    key_hashes: dict[str, tuple[str, str]] = field(default_factory=dict)
    """key id -> (shop id, SHA-256 of the key), only keys that have not expired."""
    shop_names: dict[str, str] = field(default_factory=dict)
    """shop id -> its display name."""


async def load_api_keys(engine: AsyncEngine) -> ApiKeySnapshot:
    """Every live API key's hash and shop, and the shops' names (no secret is read)."""
    now = _now()
    live = ApiKeyRow.expires_at.is_(None) | (ApiKeyRow.expires_at > now)
    async with engine.connect() as conn:
        keys = await conn.execute(
            select(ApiKeyRow.key_id, ApiKeyRow.shop_id, ApiKeyRow.key_hash).where(live)
        )
        hashes = {key_id: (shop_id, key_hash) for key_id, shop_id, key_hash in keys}
        shops = await conn.execute(select(ShopRow.shop_id, ShopRow.name))
        names = {shop_id: name for shop_id, name in shops}
    return ApiKeySnapshot(key_hashes=hashes, shop_names=names)


SEALED_COLUMNS = (
    "webhook_secret_sealed",
    "previous_webhook_secret_sealed",
    "shopify_secret_sealed",
)
"""Every column of `shops` that holds a value sealed with the master keys."""


@dataclass(frozen=True)
class ResealReport:
    resealed: int
    """Values sealed again under the active key in this run."""
    total: int
    """Sealed values in the registry (all of them now under `kid`)."""
    shops: int
    kid: str


class ShopRegistry:
    def __init__(self, engine: AsyncEngine, box: SecretBox) -> None:
        self._sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            engine, expire_on_commit=False
        )
        self._box = box

    async def add(
        self,
        shop_id: str,
        name: str,
        *,
        shopify_domain: str | None = None,
        rate_limit_per_s: int = DEFAULT_RATE_LIMIT_PER_S,
        require_signature: bool = False,
    ) -> ShopCredentials:
        if not SHOP_ID_PATTERN.match(shop_id):
            raise ShopError(
                "shop id must be 2-63 characters: lower-case letters, digits, '-' or '_'"
            )
        if rate_limit_per_s < 1:
            raise ShopError("rate limit must be at least 1 event per second")
        key = issue_api_key()
        secret = new_webhook_secret()
        async with self._sessions() as session:
            session.add(
                ShopRow(
                    shop_id=shop_id,
                    name=name,
                    shopify_domain=shopify_domain.lower() if shopify_domain else None,
                    webhook_secret_sealed=self._box.seal(secret),
                    rate_limit_per_s=rate_limit_per_s,
                    require_signature=require_signature,
                )
            )
            await session.flush()
            session.add(ApiKeyRow(key_id=key.key_id, shop_id=shop_id, key_hash=key.key_hash))
            try:
                await session.commit()
            except IntegrityError as exc:
                raise ShopError(
                    f"shop {shop_id!r} or Shopify domain {shopify_domain!r} already exists"
                ) from exc
        return ShopCredentials(shop_id, key.key, secret)

    async def rotate(self, shop_id: str, *, grace: timedelta) -> ShopCredentials:
        """New API key and webhook secret; the old ones keep working for `grace`."""
        key = issue_api_key()
        secret = new_webhook_secret()
        until = _now() + grace
        async with self._sessions() as session, session.begin():
            shop = await session.get(ShopRow, shop_id, with_for_update=True)
            if shop is None:
                raise ShopError(f"unknown shop {shop_id!r}")
            await session.execute(
                update(ApiKeyRow)
                .where(ApiKeyRow.shop_id == shop_id)
                .where((ApiKeyRow.expires_at.is_(None)) | (ApiKeyRow.expires_at > until))
                .values(expires_at=until)
            )
            shop.previous_webhook_secret_sealed = shop.webhook_secret_sealed
            shop.previous_webhook_secret_until = until
            shop.webhook_secret_sealed = self._box.seal(secret)
            session.add(ApiKeyRow(key_id=key.key_id, shop_id=shop_id, key_hash=key.key_hash))
        return ShopCredentials(shop_id, key.key, secret)

    async def set_shopify_secret(self, shop_id: str, secret: SecretStr) -> None:
        """Store the secret Shopify signs this shop's webhooks with (encrypted)."""
        if len(secret.get_secret_value()) < 16:
            raise ShopError("a Shopify webhook secret is at least 16 characters long")
        async with self._sessions() as session, session.begin():
            shop = await session.get(ShopRow, shop_id, with_for_update=True)
            if shop is None:
                raise ShopError(f"unknown shop {shop_id!r}")
            shop.shopify_secret_sealed = self._box.seal(secret)

    async def reseal(self) -> ResealReport:
        """Seal every stored secret again under the active key (idempotent: values already
        under it are left alone), in one transaction with the shops locked."""
        resealed = total = 0
        async with self._sessions() as session, session.begin():
            shops = (await session.scalars(select(ShopRow).with_for_update())).all()
            for shop in shops:
                for column in SEALED_COLUMNS:
                    sealed: str | None = getattr(shop, column)
                    if sealed is None:
                        continue
                    total += 1
                    if not self._box.is_current(sealed):
                        setattr(shop, column, self._box.seal(self._box.open(sealed)))
                        resealed += 1
        return ResealReport(resealed, total, len(shops), self._box.active_kid)

    async def sealed_with(self) -> dict[str, int]:
        """Master key id -> how many stored secrets are sealed with it (what `nudge keys
        retire` checks); ValueError when a value opens with no key of the ring."""
        async with self._sessions() as session:
            shops = (await session.scalars(select(ShopRow))).all()
        counts: dict[str, int] = {}
        for shop in shops:
            for column in SEALED_COLUMNS:
                sealed: str | None = getattr(shop, column)
                if sealed is not None:
                    kid = self._box.sealed_with(sealed)
                    counts[kid] = counts.get(kid, 0) + 1
        return counts

    async def list(self) -> list[ShopSummary]:
        now = _now()
        async with self._sessions() as session:
            shops = (await session.scalars(select(ShopRow).order_by(ShopRow.shop_id))).all()
            keys = (await session.scalars(select(ApiKeyRow))).all()
        active: dict[str, int] = {}
        for key in keys:
            if key.expires_at is None or key.expires_at > now:
                active[key.shop_id] = active.get(key.shop_id, 0) + 1
        return [
            ShopSummary(
                shop_id=s.shop_id,
                name=s.name,
                shopify_domain=s.shopify_domain,
                rate_limit_per_s=s.rate_limit_per_s,
                require_signature=s.require_signature,
                active_keys=active.get(s.shop_id, 0),
                created_at=s.created_at,
            )
            for s in shops
        ]

    async def snapshot(self) -> AccessSnapshot:
        now = _now()
        async with self._sessions() as session:
            shops = (await session.scalars(select(ShopRow))).all()
            keys = (
                await session.scalars(
                    select(ApiKeyRow).where(
                        ApiKeyRow.expires_at.is_(None) | (ApiKeyRow.expires_at > now)
                    )
                )
            ).all()
        access: dict[str, ShopAccess] = {}
        for s in shops:
            try:
                secrets = [self._box.open(s.webhook_secret_sealed)]
                if (
                    s.previous_webhook_secret_sealed
                    and s.previous_webhook_secret_until
                    and s.previous_webhook_secret_until > now
                ):
                    secrets.append(self._box.open(s.previous_webhook_secret_sealed))
                shopify = (
                    (self._box.open(s.shopify_secret_sealed),)
                    if s.shopify_secret_sealed
                    else tuple(secrets)
                )
            except ValueError as exc:  # e.g. sealed with a key this process's ring lacks yet
                log.error("shop %s is left out until its secrets open: %s", s.shop_id, exc)
                continue
            access[s.shop_id] = ShopAccess(
                shop_id=s.shop_id,
                shopify_domain=s.shopify_domain,
                webhook_secrets=tuple(secrets),
                rate_limit_per_s=s.rate_limit_per_s,
                require_signature=s.require_signature,
                shopify_secrets=shopify,
            )
        return AccessSnapshot(
            shops=access,
            key_hashes={
                k.key_id: (k.shop_id, k.key_hash)
                for k in keys
                if k.expires_at is None or k.expires_at > now
            },
            shopify_domains={
                s.shopify_domain: s.shop_id for s in shops if s.shopify_domain is not None
            },
        )
