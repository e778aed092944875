"""The shop registry's access snapshot, on the real database, during a key rotation."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import SecretStr

from shared.credentials import SecretBox
from shared.db.engine import make_engine
from shared.keyring import MasterKey
from shared.settings import DatabaseSettings
from shared.tenancy import AccessSnapshot, ShopRegistry
from tests.support.shops import TEST_KEYS, add_shop, unique_shop_id
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


def test_a_shop_sealed_with_a_key_this_process_lacks_is_left_out_not_fatal(stack: Stack) -> None:
    """An ingest still on the old ring while a shop is added under the new key (a rotation
    rolled out out of order) keeps serving every other shop."""
    known = add_shop(stack.database_url)
    newer_ring = TEST_KEYS.rotated(MasterKey(kid="k-next", secret=SecretStr("n" * 40)))
    newer_id = unique_shop_id("newkey")

    async def run() -> AccessSnapshot:
        engine = make_engine(DatabaseSettings(url=SecretStr(stack.database_url)))
        try:
            await ShopRegistry(engine, SecretBox(newer_ring)).add(newer_id, "Sealed anew")
            return await ShopRegistry(engine, SecretBox(TEST_KEYS)).snapshot()
        finally:
            await engine.dispose()

    snapshot = asyncio.run(run())
    assert known.shop_id in snapshot.shops
    assert newer_id not in snapshot.shops
