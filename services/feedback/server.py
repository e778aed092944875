"""Running the feedback service: the HTTP app under uvicorn, the index consumer beside it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import uvicorn
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI

from services.feedback.app import create_app
from services.feedback.index import TOPICS, Indexer
from services.feedback.parts import bootstrap
from services.feedback.settings import FeedbackSettings
from shared.garbage import tune_garbage_collector
from shared.http import protocol
from shared.kafka import consumer_fetch_options, pin_new_group_to_end
from shared.polls import PollGivenBack

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
    consumers: list[AIOKafkaConsumer] = []  # made in the loop, as aiokafka requires

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.start_from == "latest":
            await asyncio.to_thread(pin_new_group_to_end, built.kafka, settings.group_id, TOPICS)
        consumer = AIOKafkaConsumer(
            *TOPICS,
            **built.kafka.client_options(),
            **consumer_fetch_options(),
            group_id=settings.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        consumers.append(consumer)
        await built.publisher.start()
        await consumer.start()
        indexer = Indexer(consumer, built.publisher.producer, built.parts.directory)
        task = asyncio.create_task(_index_forever(indexer), name="index")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await consumer.stop()
            await built.publisher.stop()
            await built.engine.dispose()

    app = create_app(built.parts, checks=lambda: _checks(consumers), lifespan=lifespan)
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


def _checks(consumers: list[AIOKafkaConsumer]) -> dict[str, bool]:
    return {"index": any(consumer.assignment() for consumer in consumers)}


async def _index_forever(indexer: Indexer) -> None:
    """Read the topics into the directory; survive errors (the poll is read again)."""
    delay = 0.5
    while True:
        try:
            await indexer.run_once()
            delay = 0.5
        except PollGivenBack as exc:
            cause = None if exc.transient else exc.__cause__
            log.warning("%s; retrying in %.1fs", exc, delay, exc_info=cause)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
