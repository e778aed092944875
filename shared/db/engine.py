"""The async SQLAlchemy engine (asyncpg driver)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from shared.settings import DatabaseSettings


def make_engine(settings: DatabaseSettings) -> AsyncEngine:
    return create_async_engine(
        settings.url.get_secret_value(),
        pool_size=settings.pool_size,
        pool_pre_ping=True,
        pool_timeout=settings.timeout_s,
        # asyncpg waits 60 s to connect and forever for a query unless told otherwise
        connect_args={"timeout": settings.timeout_s, "command_timeout": settings.timeout_s},
    )


def make_sessions(engine: AsyncEngine) -> async_sessionmaker:  # type: ignore[type-arg]
    return async_sessionmaker(engine, expire_on_commit=False)
