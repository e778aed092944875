"""The OpenAPI document: request bodies described from the same models that validate them.

Routes read raw bodies (the HMAC must be computed over the exact bytes), so FastAPI cannot
infer their schemas; they are declared here instead.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

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
RESULTS_ANSWER: dict[str, Any] = {
    "200": {
        "description": "Per item: accepted, duplicate, rejected (with field errors), ignored",
        "content": {"application/json": {"schema": _RESULT}},
    },
    "400": {"description": "Body is not JSON", "content": _PROBLEM},
    "401": {"description": "Bad API key or signature", "content": _PROBLEM},
    "413": {"description": "Body or batch too large", "content": _PROBLEM},
    "415": {"description": "Content-Type is not JSON", "content": _PROBLEM},
    "422": {"description": "Nothing valid in the request (errors name the field)"},
    "429": {"description": "The shop's rate limit is exceeded (Retry-After)", "content": _PROBLEM},
    "503": {"description": "Kafka did not acknowledge in time (Retry-After)", "content": _PROBLEM},
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
    app.openapi_schema = document
    return document
