"""The PostgreSQL directory against the one contract suite, on the real database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.feedback.directory import Directory
from services.feedback.directory.postgres import PostgresDirectory
from tests.support.directory_contract import DirectoryContract
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


class TestPostgresDirectory(DirectoryContract):
    @pytest.fixture(autouse=True)
    async def _engine(self, stack: Stack) -> AsyncIterator[None]:
        self.engine: AsyncEngine = create_async_engine(stack.database_url)
        yield
        await self.engine.dispose()

    def directory(self) -> Directory:
        return PostgresDirectory(self.engine)
