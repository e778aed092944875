"""How the read API documents itself: the API key, the parameters, every answer; and the
document itself (the routes, problem+json errors), committed as
services/segmenter/api/openapi.json (services/schema_docs.py)."""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.security import HTTPBasic, HTTPBearer

from shared.http.openapi import ANY_ROUTE_ERRORS, PROBLEM_SCHEMAS, Answers, problem, ref

API_KEY = [
    Depends(HTTPBearer(scheme_name="apiKey", description="The shop's API key (nk_...)")),
    Depends(
        HTTPBasic(
            scheme_name="apiKeyAsBasicUser",
            description="The API key as the Basic user name (any password)",
        )
    ),
]
"""Documentation only: the routes read the key themselves (shared/http/api_keys.py)."""

CUSTOMER = {
    "name": "customer_id",
    "in": "path",
    "required": True,
    "description": "The shop's own customer id, as in its events (URL-encoded)",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}
SEGMENT = {
    "name": "segment_id",
    "in": "path",
    "required": True,
    "description": "A segment id of the shop's segment rules (`vip`, `lapsed`...)",
    "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]{0,99}$"},
}


def page(default: int, largest: int) -> list[dict[str, Any]]:
    return [
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "description": f"Members per page (default {default})",
            "schema": {"type": "integer", "minimum": 1, "maximum": largest},
        },
        {
            "name": "cursor",
            "in": "query",
            "required": False,
            "description": "The previous page's `next_cursor` (none: the first page)",
            "schema": {"type": "string", "maxLength": 2048},
        },
    ]


def answers(
    model: str, description: str, *, not_found: str | None = None, params: bool = True
) -> Answers:
    """A JSON route's answers (`not_found`: it has a 404; `params`: it takes parameters)."""
    found: Answers = {
        **ANY_ROUTE_ERRORS,
        "200": {
            "description": description,
            "content": {"application/json": {"schema": ref(model)}},
        },
        "401": problem("Missing, unknown or expired API key"),
        "422": problem("A parameter is not valid (errors name it)"),
        "503": problem(
            "The projection did not answer in time, shop credentials not loaded yet, or too "
            "many connections (Retry-After)"
        ),
    }
    if not_found:
        found["404"] = problem(not_found)
    if not params:
        del found["422"]
    return found


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    document.setdefault("components", {}).setdefault("schemas", {}).update(PROBLEM_SCHEMAS)
    app.openapi_schema = document
    return document
