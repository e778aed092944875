"""Running the feedback service: the HTTP app under uvicorn, and beside it the consumers of the
index, attribution and reports (shared/group_runner.py), each ready when assigned."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import uvicorn
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI

from services.feedback.app import create_app
from services.feedback.attribution.runner import attribution_runner
from services.feedback.index import TOPICS, Indexer
from services.feedback.parts import bootstrap
from services.feedback.reports.runner import reports_runner
from services.feedback.settings import FeedbackSettings
from shared.garbage import tune_garbage_collector
from shared.group_runner import GroupRunner
from shared.http import protocol

log = logging.getLogger(__name__)


def serve(settings: FeedbackSettings | None = None) -> None:
    settings = settings or FeedbackSettings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        built = bootstrap(settings)
    except ValueError as exc:  # a setting: say which, before connecting to anything
        raise SystemExit(f"feedback cannot start: {exc}") from None
    protocol.configure(
        header_timeout_s=settings.header_timeout_s, max_connections=settings.max_connections
    )

    def index(consumer: AIOKafkaConsumer) -> Indexer:
        return Indexer(consumer, built.publisher.producer, built.parts.directory)

    runners = (
        GroupRunner(
            built.kafka, "index", settings.group_id, TOPICS, index, start_from=settings.start_from
        ),
        attribution_runner(built),
        reports_runner(built),
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await built.publisher.start()
        await built.parts.reports.api_keys.start()  # reports' credentials, refreshed in the back
        for runner in runners:
            await runner.start()
        try:
            yield
        finally:
            for runner in reversed(runners):
                await runner.stop()
            await built.parts.reports.api_keys.stop()
            await built.publisher.stop()
            await built.engine.dispose()

    app = create_app(
        built.parts,
        checks=lambda: {runner.name: runner.assigned for runner in runners},
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
