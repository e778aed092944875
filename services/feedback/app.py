"""The feedback service's HTTP app: what customers and providers send back, as events."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI

from services.feedback.openapi import build_openapi
from services.feedback.parts import Parts
from services.feedback.routes import (
    health,
    reports,
    ses,
    sms,
    surveys,
    tracking,
    unsubscribe,
)
from shared.http import problems

DESCRIPTION = """What customers and providers send back: one-click unsubscribes and preferences,
SMS replies and delivery callbacks, email bounces and complaints, survey answers. Each fact
becomes a record on `feedback.events.v1`; a 2xx answer (a survey answer's 303) means the broker
has it."""

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(
    parts: Parts | None,
    *,
    checks: Callable[[], dict[str, bool]] = dict,
    lifespan: Lifespan | None = None,
) -> FastAPI:
    """The app around `parts` (built by `bootstrap`, or fakes in tests; None: an app that
    only describes itself, for the published OpenAPI document). `checks` adds to readiness
    (the index consumer's); `lifespan` starts and stops what the server runs."""
    app = FastAPI(
        title="Nudge feedback API", version="1.0.0", description=DESCRIPTION, lifespan=lifespan
    )
    app.state.parts = parts
    app.state.checks = checks
    problems.install(app)
    for module in (health, unsubscribe, sms, ses, surveys, tracking, reports):
        app.include_router(module.router)

    def openapi() -> dict[str, Any]:
        return build_openapi(app)

    app.openapi = openapi  # type: ignore[method-assign]
    return app
