"""Plain SQL against a test database, and an engine that can never connect."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

UNREACHABLE_URL = "postgresql+asyncpg://nudge:nudge@127.0.0.1:9/nudge"
"""Port 9 (discard) on loopback: connections are refused at once."""


def run_sql(database_url: str, statement: str, **params: Any) -> list[Any]:
    """Run one statement in its own transaction; the rows it returns, if any."""

    async def run() -> list[Any]:
        engine = create_async_engine(database_url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                result = await conn.execute(text(statement), params)
                return list(result) if result.returns_rows else []
        finally:
            await engine.dispose()

    return asyncio.run(run())


@asynccontextmanager
async def unreachable_engine() -> AsyncIterator[AsyncEngine]:
    """An engine whose every connection attempt fails fast, as during a database outage."""
    engine = create_async_engine(UNREACHABLE_URL, connect_args={"timeout": 2})
    try:
        yield engine
    finally:
        await engine.dispose()
