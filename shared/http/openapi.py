"""OpenAPI parts every HTTP service of Nudge documents the same way: problem+json errors, the
answers any route may give, the probes and metrics pages, and header parameters."""

from __future__ import annotations

from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

REF = "#/components/schemas/{model}"
Answers = dict[int | str, dict[str, Any]]


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


PROBLEM_CONTENT = {"application/problem+json": {"schema": ref("Problem")}}


def problem(description: str) -> dict[str, Any]:
    """A documented answer whose body is a problem document."""
    return {"description": description, "content": PROBLEM_CONTENT}


def header(name: str, description: str, *, required: bool = False, **schema: Any) -> dict[str, Any]:
    """A header parameter."""
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string", **schema},
    }


ANY_ROUTE_ERRORS: Answers = {
    "400": problem("Not a valid HTTP request"),
    "405": problem("Method not allowed on this path (Allow lists the allowed ones)"),
    "408": problem("The request's head or body did not arrive in time (connection closed)"),
    "500": problem("A failure of ours, logged; nothing of the request may be relied upon"),
    "503": problem("Too many connections, or not ready (Retry-After)"),
}
"""What any route may answer before or beside its own answers (404 for unknown paths too)."""
_JSON_OBJECT = {"application/json": {"schema": {"type": "object"}}}
HEALTH_ANSWER: Answers = {
    **ANY_ROUTE_ERRORS,
    "200": {"description": "Alive", "content": _JSON_OBJECT},
}
READY_ANSWER: Answers = {
    **ANY_ROUTE_ERRORS,
    "200": {"description": "Ready", "content": _JSON_OBJECT},
    "503": problem("Not ready: `checks` says what is missing"),
}
METRICS_ANSWER: Answers = {
    **ANY_ROUTE_ERRORS,
    "200": {
        "description": "Prometheus text exposition format",
        "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
    },
}
PROBLEM_SCHEMAS: dict[str, Any] = {
    "FieldError": {
        "type": "object",
        "properties": {"field": {"type": "string"}, "reason": {"type": "string"}},
    },
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details",
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {"type": "array", "items": ref("FieldError")},
        },
    },
}
"""Component schemas of the documents above, to add to a service's OpenAPI components."""
