"""Running the read API: the HTTP app under uvicorn, and beside it the projection's consumer of
`customer.profiles.v1` in a group of its own (shared/group_runner.py), ready when assigned."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import uvicorn
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI

from services.segmenter.api.app import create_app
from services.segmenter.api.consumer import TOPICS, Projector
from services.segmenter.api.parts import bootstrap
from services.segmenter.api.settings import SegmenterApiSettings
from shared.garbage import tune_garbage_collector
from shared.group_runner import GroupRunner
from shared.http import protocol

log = logging.getLogger(__name__)


def serve(settings: SegmenterApiSettings | None = None) -> None:
    settings = settings or SegmenterApiSettings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        built = bootstrap(settings)
    except ValueError as exc:  # a setting: say which, before connecting to anything
        raise SystemExit(f"the segmenter API cannot start: {exc}") from None
    protocol.configure(
        header_timeout_s=settings.header_timeout_s, max_connections=settings.max_connections
    )

    def make(consumer: AIOKafkaConsumer) -> Projector:
        return Projector(consumer, built.producer, built.parts.store)

    runner = GroupRunner(
        built.kafka, "profiles", settings.group_id, TOPICS, make, start_from=settings.start_from
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await built.producer.start()
        await built.parts.api_keys.start()  # the shops' key hashes, refreshed in the back
        await runner.start()
        try:
            yield
        finally:
            await runner.stop()
            await built.parts.api_keys.stop()
            await built.producer.stop()
            await built.engine.dispose()

    app = create_app(
        built.parts,
        checks=lambda: {"kafka": built.producer.ready, "profiles": runner.assigned},
        lifespan=lifespan,
    )
    tune_garbage_collector()
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=False,
        timeout_graceful_shutdown=10,
        timeout_keep_alive=settings.keep_alive_s,
        http=protocol.CLASS_PATH,
    )
