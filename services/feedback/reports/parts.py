"""What reports work with: the store, and the shops' API keys (hashes only) kept fresh in the
background; built from the settings (PostgreSQL), or in memory for tests."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from services.feedback.reports.postgres import PostgresReportStore
from services.feedback.reports.store import MemoryReportStore, ReportStore
from services.feedback.settings import FeedbackSettings
from shared.http.api_keys import CredentialCache
from shared.tenancy import ApiKeySnapshot, load_api_keys

ApiKeys = CredentialCache[ApiKeySnapshot]
"""Which shop an API key is, from the registry's hashes (never a secret, never the master
keys): refreshed in the background, so a report request never waits on PostgreSQL for it."""


@dataclass(frozen=True)
class ReportParts:
    store: ReportStore
    api_keys: ApiKeys

    @classmethod
    def in_memory(cls, keys: Callable[[], Awaitable[ApiKeySnapshot]] | None = None) -> ReportParts:
        """A memory store; `keys` loads the API keys (none: no key is valid)."""
        return cls(MemoryReportStore(), ApiKeys(keys or _no_keys, refresh_s=5.0))

    @classmethod
    def from_settings(cls, settings: FeedbackSettings, engine: AsyncEngine) -> ReportParts:
        async def load() -> ApiKeySnapshot:
            return await load_api_keys(engine)

        api_keys = ApiKeys(load, refresh_s=settings.credentials_refresh_s)
        return cls(PostgresReportStore(engine), api_keys)


async def _no_keys() -> ApiKeySnapshot:
    return ApiKeySnapshot()
