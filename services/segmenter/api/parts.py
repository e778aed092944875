"""What the read API works with, built once: the projection and the shops' API keys (hashes
only), from the settings (PostgreSQL), or in memory for tests. `Built` adds what only the
running service starts: the engine and the producer dead letters go out with."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from services.segmenter.api.postgres import PostgresProjection
from services.segmenter.api.settings import SegmenterApiSettings
from services.segmenter.api.store import MemoryProjection, ProfileProjection
from shared.db.engine import make_engine
from shared.http.api_keys import CredentialCache
from shared.loop_producer import LoopProducer
from shared.settings import DatabaseSettings, KafkaSettings
from shared.tenancy import ApiKeySnapshot, load_api_keys
from shared.topics import CUSTOMER_PROFILES, dead_letter_topic

ApiKeys = CredentialCache[ApiKeySnapshot]
"""Which shop an API key is, from the registry's hashes (never a secret, never the master
keys): refreshed in the background, so a request never waits on PostgreSQL for it."""


async def _no_keys() -> ApiKeySnapshot:
    return ApiKeySnapshot()


@dataclass(frozen=True)
class Parts:
    settings: SegmenterApiSettings = field(default_factory=SegmenterApiSettings)
    store: ProfileProjection = field(default_factory=MemoryProjection)
    api_keys: ApiKeys = field(default_factory=lambda: ApiKeys(_no_keys, refresh_s=5.0))

    @classmethod
    def in_memory(
        cls,
        keys: Callable[[], Awaitable[ApiKeySnapshot]] | None = None,
        settings: SegmenterApiSettings | None = None,
    ) -> Parts:
        """A memory projection; `keys` loads the API keys (none: no key is valid)."""
        settings = settings or SegmenterApiSettings()
        return cls(settings, MemoryProjection(), ApiKeys(keys or _no_keys, refresh_s=5.0))


@dataclass(frozen=True)
class Built:
    parts: Parts
    engine: AsyncEngine
    producer: LoopProducer
    kafka: KafkaSettings


def bootstrap(
    settings: SegmenterApiSettings,
    kafka: KafkaSettings | None = None,
    database: DatabaseSettings | None = None,
) -> Built:
    kafka = kafka or KafkaSettings()
    engine = make_engine(database or DatabaseSettings())

    async def load() -> ApiKeySnapshot:
        return await load_api_keys(engine)

    api_keys = ApiKeys(load, refresh_s=settings.credentials_refresh_s)
    producer = LoopProducer(
        kafka,
        client_id="nudge-segmenter-api",
        timeout_s=10.0,
        linger_ms=5,
        probe_topic=dead_letter_topic(CUSTOMER_PROFILES.name).name,
    )
    return Built(Parts(settings, PostgresProjection(engine), api_keys), engine, producer, kafka)


def parts(request: Request) -> Parts:
    found: Parts = request.app.state.parts
    return found
