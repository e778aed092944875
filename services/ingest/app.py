"""The ingest service: FastAPI app factory and its lifecycle."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from services.ingest import metrics
from services.ingest.access import Access
from services.ingest.dedup import RecentIds
from services.ingest.intake import Intake
from services.ingest.openapi import build_openapi
from services.ingest.order_owners import OrderOwners
from services.ingest.rate_limit import ShopRateLimiter
from services.ingest.routes import health, native, segment, shopify
from services.ingest.routes.common import Parts
from services.ingest.settings import IngestSettings
from shared.credentials import SecretBox
from shared.db.engine import make_engine
from shared.http import problems
from shared.http.body import UnverifiedBodies
from shared.publisher import EventPublisher
from shared.settings import DatabaseSettings, KafkaSettings, SecretKeySettings
from shared.tenancy import ShopRegistry
from shared.topics import SHOP_EVENTS

DESCRIPTION = """Shops send their events here: Shopify webhooks, Segment-spec calls, or native
batches. A 2xx answer means the events are on Kafka (acks=all); anything else means nothing of
the request may be relied upon and it should be retried with the same ids."""


def create_app(
    settings: IngestSettings | None = None,
    kafka: KafkaSettings | None = None,
    database: DatabaseSettings | None = None,
    secret_key: SecretKeySettings | None = None,
) -> FastAPI:
    """Build the app; settings are validated here, so a bad configuration fails at start."""
    settings = settings or IngestSettings()
    kafka = kafka or KafkaSettings()
    database = database or DatabaseSettings()
    box = SecretBox((secret_key or SecretKeySettings()).ring())
    engine: AsyncEngine = make_engine(database)
    registry = ShopRegistry(engine, box)
    access = Access(
        registry.snapshot,
        refresh_s=settings.credentials_refresh_s,
        signature_tolerance_s=settings.signature_tolerance_s,
    )
    publisher = EventPublisher(
        kafka,
        topic=SHOP_EVENTS.name,
        client_id="nudge-ingest",
        timeout_s=settings.publish_timeout_s,
        linger_ms=settings.linger_ms,
    )
    intake = Intake(
        publisher,
        RecentIds(settings.dedup_window_s, settings.dedup_max_ids),
        ShopRateLimiter(min_burst=settings.max_batch_events, share=1 / settings.workers),
        settings.retry_after_s,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await publisher.start()
        await access.start()
        try:
            yield
        finally:
            await access.stop()
            await owners.stop()
            await publisher.stop()
            await engine.dispose()
            metrics.worker_exited(os.getpid())

    app = FastAPI(
        title="Nudge ingest API", version="1.0.0", description=DESCRIPTION, lifespan=lifespan
    )
    owners = OrderOwners(engine)
    unverified = UnverifiedBodies(settings.unverified_body_bytes, settings.retry_after_s)
    app.state.parts = Parts(settings, access, publisher, intake, owners, unverified)
    problems.install(app)
    for module in (native, shopify, segment, health):
        app.include_router(module.router)

    def openapi() -> dict[str, Any]:
        return build_openapi(app)

    app.openapi = openapi  # type: ignore[method-assign]
    return app
