"""The PostgreSQL suppression store against the one contract suite, on the real database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.feedback.bounces.postgres import PostgresSuppressionStore
from services.feedback.bounces.store import SuppressionStore
from tests.support.stack import Stack
from tests.support.suppression_contract import SuppressionStoreContract

pytestmark = pytest.mark.integration


class TestPostgresSuppressionStore(SuppressionStoreContract):
    @pytest.fixture(autouse=True)
    async def _engine(self, stack: Stack) -> AsyncIterator[None]:
        self.engine: AsyncEngine = create_async_engine(stack.database_url)
        yield
        await self.engine.dispose()

    def store(self) -> SuppressionStore:
        return PostgresSuppressionStore(self.engine)
