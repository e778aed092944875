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
from shared.http.openapi import (
    ANY_ROUTE_ERRORS,
    PROBLEM_SCHEMAS,
    REF,
    Answers,
    header,
    problem,
    ref,
)


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
            "events": {"type": "array", "minItems": 1, "maxItems": 1000, "items": ref("ShopEvent")}
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
                    "errors": {"type": "array", "items": ref("FieldError")},
                    "reason": {"type": "string"},
                },
            },
        },
    },
}
_SIGNED = header(
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
        header(
            "X-Shopify-Topic",
            "The webhook's topic; topics Nudge does not map are answered 200 'ignored'",
            required=True,
            examples=sorted(SUPPORTED_TOPICS),
        ),
        header(
            "X-Shopify-Hmac-Sha256",
            "base64 HMAC-SHA256 of the raw body with the shop's Shopify secret",
            required=True,
        ),
        header("X-Shopify-Shop-Domain", "The shop's myshopify.com domain", required=True),
        header("X-Shopify-Webhook-Id", "Shopify's delivery id, kept on retries", required=True),
        header(
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


RESULTS_ANSWER: Answers = {
    **ANY_ROUTE_ERRORS,
    "200": {
        "description": "Per item: accepted, duplicate, rejected (with field errors), ignored",
        "content": {"application/json": {"schema": _RESULT}},
    },
    "400": problem("Body is not JSON, or a required header is missing"),
    "401": problem("Bad API key or signature"),
    "413": problem("Body or batch too large, or an event over the size of one record"),
    "415": problem("Content-Type is not JSON"),
    "422": {
        "description": "Nothing valid in the request (errors name the field)",
        "content": {
            "application/json": {"schema": _RESULT},
            "application/problem+json": {"schema": ref("Problem")},
        },
    },
    "429": problem("The shop's rate limit is exceeded (Retry-After)"),
    "503": problem(
        "Kafka did not acknowledge in time, too many connections or unverified bodies (Retry-After)"
    ),
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
    components.update(PROBLEM_SCHEMAS)
    document["components"]["securitySchemes"] = _SECURITY_SCHEMES
    app.openapi_schema = document
    return document
