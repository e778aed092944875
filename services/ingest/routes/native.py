"""`POST /v1/events`: a batch of native events (CloudEvents-shaped, typed by `type`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from services.ingest.intake import Item, field_errors
from services.ingest.openapi import NATIVE_BATCH_BODY, NATIVE_REQUEST, RESULTS_ANSWER
from services.ingest.routes.common import (
    authenticate,
    batch_answer,
    check_signature,
    observed,
    parts,
)
from shared.events import EVENT_TYPES
from shared.http import problems
from shared.http.body import (
    NUL_ESCAPE,
    NUL_REASON,
    json_object,
    nul_field,
    parse_json,
    read_capped,
    require_json,
)
from shared.http.problems import FieldError
from shared.http.routes import DirectRoute
from shared.tenancy import ShopAccess

router = APIRouter(route_class=DirectRoute)
_UNKNOWN_TYPE = "unknown event type; one of: " + ", ".join(sorted(EVENT_TYPES))


def native_item(raw: Any, shop: ShopAccess, *, may_hold_nul: bool = False) -> Item:
    """Validate one batch entry; the API key decides the shop, never the payload.

    `may_hold_nul`: the body contains a NUL escape, so this entry is searched for one.
    """
    if not isinstance(raw, dict):
        return Item(errors=[FieldError("(item)", "expected an event object")])
    ref = raw.get("id") if isinstance(raw.get("id"), str) else None
    if may_hold_nul and (field := nul_field(raw)) is not None:
        return Item(ref=ref, errors=[FieldError(field, NUL_REASON)])
    claimed = raw.get("shopid")
    if claimed is not None and claimed != shop.shop_id:
        return Item(ref=ref, errors=[FieldError("shopid", "does not match the API key's shop")])
    source = raw.get("source")
    if source is not None and not (
        isinstance(source, str) and source.startswith(f"/shops/{shop.shop_id}/")
    ):
        reason = f"must start with /shops/{shop.shop_id}/ (or be left out)"
        return Item(ref=ref, errors=[FieldError("source", reason)])
    # The parsed body is ours: completed in place rather than copied (a cost per event).
    raw.setdefault("specversion", "1.0")
    raw.setdefault("source", f"/shops/{shop.shop_id}/api")
    raw["shopid"] = shop.shop_id
    kind = raw.get("type")
    model = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if model is None:  # looked up here: a third faster than validating the whole union
        return Item(ref=ref, errors=[FieldError("type", _UNKNOWN_TYPE)])
    try:
        event = model.model_validate(raw)
    except ValidationError as exc:
        return Item(ref=ref, errors=field_errors(exc))
    return Item(events=[event], ref=event.id)


@router.post(
    "/v1/events",
    summary="Send a batch of native events",
    openapi_extra={
        "requestBody": NATIVE_BATCH_BODY,
        "responses": RESULTS_ANSWER,
        **NATIVE_REQUEST,
    },
)
@observed("/v1/events")
async def post_events(request: Request) -> Response:
    p = parts(request)
    require_json(request)
    shop = await authenticate(request)
    raw = await read_capped(request, p.settings.max_body_bytes, p.settings.body_timeout_s)
    check_signature(request, shop, raw)
    body = json_object(parse_json(raw), "the batch")
    events = body.get("events")
    if not isinstance(events, list) or not events:
        raise problems.invalid(
            "the batch needs a non-empty 'events' array",
            [FieldError("events", "expected a non-empty array of events")],
        )
    if len(events) > p.settings.max_batch_events:
        raise problems.too_large(
            f"batch has {len(events)} events; at most {p.settings.max_batch_events} per request"
        )
    may_hold_nul = NUL_ESCAPE in raw
    items = [native_item(e, shop, may_hold_nul=may_hold_nul) for e in events]
    return batch_answer(await p.intake.submit(shop, items))
