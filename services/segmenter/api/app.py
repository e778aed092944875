"""The segmenter's read API as an HTTP app: profiles and segments, for the shop's API key."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import FastAPI

from services.segmenter.api import health, routes
from services.segmenter.api.openapi import build_openapi
from services.segmenter.api.parts import Parts
from shared.http import problems

DESCRIPTION = """Each customer's live profile and segment memberships, each segment's size and
members, for the shop's API key. Served from a PostgreSQL projection of `customer.profiles.v1`
(the segmenter's compacted topic), a moment behind the segmenter itself."""

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_app(
    parts: Parts | None,
    *,
    checks: Callable[[], dict[str, bool]] = dict,
    lifespan: Lifespan | None = None,
) -> FastAPI:
    """The app around `parts` (built by `bootstrap`, or in memory in tests; None: an app that
    only describes itself, for the published OpenAPI document). `checks` adds to readiness
    (the consumer's assignment); `lifespan` starts and stops what the server runs."""
    app = FastAPI(
        title="Nudge segmenter API", version="1.0.0", description=DESCRIPTION, lifespan=lifespan
    )
    app.state.parts = parts
    app.state.checks = checks
    problems.install(app)
    for module in (health, routes):
        app.include_router(module.router)

    def openapi() -> dict[str, Any]:
        return build_openapi(app)

    app.openapi = openapi  # type: ignore[method-assign]
    return app
