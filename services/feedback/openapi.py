"""The feedback service's OpenAPI document: the routes, problem+json errors, the events."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from shared.http.openapi import PROBLEM_SCHEMAS


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    document.setdefault("components", {}).setdefault("schemas", {}).update(PROBLEM_SCHEMAS)
    app.openapi_schema = document
    return document
