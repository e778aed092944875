"""The OpenAPI document: request bodies described from the same models that validate them.

Routes read raw bodies (the HMAC must be computed over the exact bytes), so FastAPI cannot
infer their schemas; they are declared here instead.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from services.ingest.adapters.shopify import SUPPORTED_TOPICS
from shared.events import SHOP_EVENT

REF = "#/components/schemas/{model}"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "required": True,
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


NATIVE_BATCH_BODY = _json_body(
    {
        "type": "object",
        "required": ["events"],
        "properties": {
            "events": {"type": "array", "minItems": 1, "maxItems": 1000, "items": _ref("ShopEvent")}
        },
    },
    "Up to 1,000 events or 1 MiB. `shopid`, `source` and `specversion` may be left out: the "
    "API key decides the shop.",
)
SHOPIFY_BODY = _json_body(
    {"type": "object", "description": "Shopify's webhook payload for X-Shopify-Topic."},
    "Shopify's own payload, verified with X-Shopify-Hmac-Sha256 over the raw body.",
)
SEGMENT_BODY = _json_body(
    {"type": "object", "description": "A Segment Tracking API call (spec: track/identify)."},
    "A Segment call: messageId, userId or anonymousId, timestamp, event and properties "
    "(track) or traits (identify).",
)
SEGMENT_BATCH_BODY = _json_body(
    {"type": "object", "required": ["batch"], "properties": {"batch": {"type": "array"}}},
    "Segment's batch envelope: `batch` holds track and identify calls, each with its `type`.",
)
_RESULT = {
    "type": "object",
    "properties": {
        "accepted": {"type": "integer"},
        "duplicate": {"type": "integer"},
        "rejected": {"type": "integer"},
        "ignored": {"type": "integer"},
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"},
                    "status": {"enum": ["accepted", "duplicate", "rejected", "ignored"]},
                    "id": {"type": "string"},
                    "event_ids": {"type": "array", "items": {"type": "string"}},
                    "errors": {"type": "array", "items": _ref("FieldError")},
                    "reason": {"type": "string"},
                },
            },
        },
    },
}
_PROBLEM = {"application/problem+json": {"schema": _ref("Problem")}}


def _header(
    name: str, description: str, *, required: bool = False, **schema: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string", **schema},
    }


_SIGNED = _header(
    "Nudge-Signature",
    "t=<unix seconds>,v1=<hex HMAC-SHA256 of 't.body' with the webhook secret>; checked when "
    "present, required for shops registered with --require-signature",
)
NATIVE_REQUEST: dict[str, Any] = {"security": [{"apiKey": []}], "parameters": [_SIGNED]}
SEGMENT_REQUEST: dict[str, Any] = {
    "security": [{"apiKey": []}, {"segmentWriteKey": []}],
    "parameters": [_SIGNED],
}
SHOPIFY_REQUEST: dict[str, Any] = {
    "security": [],
    "parameters": [
        _header(
            "X-Shopify-Topic",
            "The webhook's topic; topics Nudge does not map are answered 200 'ignored'",
            required=True,
            examples=sorted(SUPPORTED_TOPICS),
        ),
        _header(
            "X-Shopify-Hmac-Sha256",
            "base64 HMAC-SHA256 of the raw body with the shop's Shopify secret",
            required=True,
        ),
        _header("X-Shopify-Shop-Domain", "The shop's myshopify.com domain", required=True),
        _header("X-Shopify-Webhook-Id", "Shopify's delivery id, kept on retries", required=True),
        _header(
            "X-Shopify-Triggered-At",
            "When Shopify triggered the webhook (used when the payload has no time)",
            format="date-time",
        ),
    ],
}
_SECURITY_SCHEMES = {
    "apiKey": {"type": "http", "scheme": "bearer", "description": "The shop's API key (nk_...)"},
    "segmentWriteKey": {
        "type": "http",
        "scheme": "basic",
        "description": "The API key as the Basic user name, as Segment's libraries send it",
    },
}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": _PROBLEM}


ANY_ROUTE_ERRORS: dict[int | str, dict[str, Any]] = {
    "400": _problem("Not a valid HTTP request"),
    "405": _problem("Method not allowed on this path (Allow lists the allowed ones)"),
    "408": _problem("The request's head or body did not arrive in time (connection closed)"),
    "500": _problem("A failure of ours, logged; nothing of the request may be relied upon"),
    "503": _problem("Too many connections, or not ready (Retry-After)"),
}
"""What any route may answer before or beside its own answers (404 for unknown paths too)."""
RESULTS_ANSWER: dict[int | str, dict[str, Any]] = {
    **ANY_ROUTE_ERRORS,
    "200": {
        "description": "Per item: accepted, duplicate, rejected (with field errors), ignored",
        "content": {"application/json": {"schema": _RESULT}},
    },
    "400": _problem("Body is not JSON, or a required header is missing"),
    "401": _problem("Bad API key or signature"),
    "413": _problem("Body or batch too large, or an event over the size of one record"),
    "415": _problem("Content-Type is not JSON"),
    "422": {
        "description": "Nothing valid in the request (errors name the field)",
        "content": {
            "application/json": {"schema": _RESULT},
            "application/problem+json": {"schema": _ref("Problem")},
        },
    },
    "429": _problem("The shop's rate limit is exceeded (Retry-After)"),
    "503": _problem(
        "Kafka did not acknowledge in time, too many connections or unverified bodies (Retry-After)"
    ),
}
_JSON_OBJECT = {"application/json": {"schema": {"type": "object"}}}
HEALTH_ANSWER: dict[int | str, dict[str, Any]] = {
    **ANY_ROUTE_ERRORS,
    "200": {"description": "Alive", "content": _JSON_OBJECT},
}
READY_ANSWER: dict[int | str, dict[str, Any]] = {
    **ANY_ROUTE_ERRORS,
    "200": {"description": "Ready", "content": _JSON_OBJECT},
    "503": _problem("Not ready: `checks` says what is missing"),
}
METRICS_ANSWER: dict[int | str, dict[str, Any]] = {
    **ANY_ROUTE_ERRORS,
    "200": {
        "description": "Prometheus text exposition format",
        "content": {"text/plain; version=0.0.4; charset=utf-8": {"schema": {"type": "string"}}},
    },
}
_SHARED_SCHEMAS: dict[str, Any] = {
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
            "errors": {"type": "array", "items": _ref("FieldError")},
        },
    },
}


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(
        title="Nudge ingest API",
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    event_schema = SHOP_EVENT.json_schema(ref_template=REF)
    components = document.setdefault("components", {}).setdefault("schemas", {})
    components.update(event_schema.pop("$defs", {}))
    components["ShopEvent"] = event_schema
    components.update(_SHARED_SCHEMAS)
    document["components"]["securitySchemes"] = _SECURITY_SCHEMES
    app.openapi_schema = document
    return document
