"""Running the ingest app under uvicorn, in this process or in several worker processes."""

from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING

import uvicorn

from services.ingest.metrics import MULTIPROC_ENV
from services.ingest.settings import IngestSettings
from shared.garbage import tune_garbage_collector
from shared.http import protocol as http_protocol

if TYPE_CHECKING:
    from fastapi import FastAPI

_SETTINGS_PREFIX = "NUDGE_INGEST_"


def worker_app() -> FastAPI:
    """The app of one worker process (uvicorn calls this factory in each worker)."""
    from services.ingest.app import create_app  # not in the parent, which only supervises

    settings = IngestSettings()
    _guard_connections(settings)
    app = create_app(settings)
    tune_garbage_collector()
    return app


def _guard_connections(settings: IngestSettings) -> None:
    http_protocol.configure(
        header_timeout_s=settings.header_timeout_s, max_connections=settings.max_connections
    )


def serve(settings: IngestSettings | None = None) -> None:
    settings = settings or IngestSettings()
    options = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "access_log": False,
        "timeout_graceful_shutdown": 10,
        "timeout_keep_alive": settings.keep_alive_s,
        "http": http_protocol.CLASS_PATH,
    }
    if settings.workers == 1:
        from services.ingest.app import create_app

        _guard_connections(settings)
        app = create_app(settings)
        tune_garbage_collector()
        uvicorn.run(app, **options)  # type: ignore[arg-type]
        return
    # Workers are spawned, not forked: they read their settings from the environment, so the
    # parent's (possibly overridden) settings are handed down there, and the metrics
    # directory is set before any worker imports prometheus_client. A fresh directory per
    # run: values left by an earlier run would otherwise be added to this one's.
    for name, value in settings.model_dump().items():
        os.environ[f"{_SETTINGS_PREFIX}{name.upper()}"] = str(value)
    with tempfile.TemporaryDirectory(prefix="nudge-ingest-metrics-") as metrics_dir:
        os.environ[MULTIPROC_ENV] = metrics_dir
        uvicorn.run(
            "services.ingest.server:worker_app",
            factory=True,
            workers=settings.workers,
            **options,  # type: ignore[arg-type]
        )
