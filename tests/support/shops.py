"""Creating real shops in the test database through the same registry `nudge shops` uses."""

from __future__ import annotations

import asyncio
import uuid

from pydantic import SecretStr

from shared.credentials import SecretBox
from shared.db.engine import make_engine
from shared.keyring import MasterKeyRing
from shared.settings import DatabaseSettings
from shared.tenancy import ShopCredentials, ShopRegistry
from tests.support.ingest_process import TEST_SECRET_KEY

TEST_KEYS = MasterKeyRing.single(SecretStr(TEST_SECRET_KEY), "the tests' NUDGE_SECRET_KEY")


def unique_shop_id(prefix: str = "shop") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def add_shop(database_url: str, shop_id: str | None = None, **options: object) -> ShopCredentials:
    async def run() -> ShopCredentials:
        engine = make_engine(DatabaseSettings(url=SecretStr(database_url)))
        try:
            registry = ShopRegistry(engine, SecretBox(TEST_KEYS))
            return await registry.add(shop_id or unique_shop_id(), "Test shop", **options)  # type: ignore[arg-type]
        finally:
            await engine.dispose()

    return asyncio.run(run())


def set_shopify_secret(database_url: str, shop_id: str, secret: str) -> None:
    async def run() -> None:
        engine = make_engine(DatabaseSettings(url=SecretStr(database_url)))
        try:
            registry = ShopRegistry(engine, SecretBox(TEST_KEYS))
            await registry.set_shopify_secret(shop_id, SecretStr(secret))
        finally:
            await engine.dispose()

    asyncio.run(run())
