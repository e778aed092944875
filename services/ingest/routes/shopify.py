"""`POST /v1/webhooks/shopify`: Shopify's webhooks, verified before they are parsed."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request, Response

from services.ingest.adapters.errors import MappingError, UnsupportedTopic
from services.ingest.adapters.shopify import map_shopify_webhook
from services.ingest.intake import Item
from services.ingest.openapi import RESULTS_ANSWER, SHOPIFY_BODY, SHOPIFY_REQUEST
from services.ingest.routes.common import json_response, observed, parts
from shared.http import problems
from shared.http.body import json_object, parse_json, read_capped, refuse_nul, require_json
from shared.http.problems import FieldError
from shared.http.routes import DirectRoute

router = APIRouter(route_class=DirectRoute)


def _triggered_at(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise problems.bad_request("X-Shopify-Triggered-At is not an ISO 8601 time") from None


@router.post(
    "/v1/webhooks/shopify",
    summary="Receive a Shopify webhook",
    openapi_extra={"requestBody": SHOPIFY_BODY, "responses": RESULTS_ANSWER, **SHOPIFY_REQUEST},
)
@observed("/v1/webhooks/shopify")
async def post_shopify(request: Request) -> Response:
    p = parts(request)
    headers = request.headers
    claimed, signature = await p.access.shopify_sender(
        headers.get("x-shopify-shop-domain"), headers.get("x-shopify-hmac-sha256")
    )
    with p.unverified.hold() as hold:  # the signature covers the body: read it, bounded
        raw = await read_capped(request, p.settings.max_body_bytes, p.settings.body_timeout_s, hold)
        shop = p.access.verify_shopify(claimed, signature, raw)
    require_json(request)
    topic = headers.get("x-shopify-topic")
    webhook_id = headers.get("x-shopify-webhook-id")
    if not topic:
        raise problems.bad_request("missing X-Shopify-Topic header")
    if not webhook_id:
        raise problems.bad_request("missing X-Shopify-Webhook-Id header")
    payload = json_object(parse_json(raw), "a Shopify webhook body")
    refuse_nul(raw, payload, "the webhook")
    try:
        events = map_shopify_webhook(
            shop_id=shop.shop_id,
            topic=topic,
            payload=payload,
            webhook_id=webhook_id,
            triggered_at=_triggered_at(headers.get("x-shopify-triggered-at")),
            shop_domain=headers.get("x-shopify-shop-domain", ""),
        )
    except UnsupportedTopic as exc:
        # 200 so that Shopify does not retry a topic we will never take.
        item = Item(ref=webhook_id, ignored_reason=f"topic {topic!r} is not mapped: {exc.reason}")
        return json_response((await p.intake.submit(shop, [item]))[0].as_json())
    except MappingError as exc:
        raise problems.invalid(
            f"cannot map the {topic} webhook", [FieldError(exc.field, exc.reason)]
        ) from None
    keyed = await p.owners.rekey(events)
    result = (await p.intake.submit(shop, [Item(events=keyed, ref=webhook_id)]))[0]
    if result.status == "rejected":  # only what intake itself refuses: an oversized event
        raise problems.too_large("; ".join(error.reason for error in result.errors))
    p.owners.remember(keyed)
    return json_response(result.as_json())
