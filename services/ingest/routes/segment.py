"""Segment-spec calls: `POST /v1/track`, `/v1/identify` and `/v1/batch`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from services.ingest.adapters.errors import MappingError
from services.ingest.adapters.segment import map_segment_call
from services.ingest.intake import Item
from services.ingest.openapi import (
    RESULTS_ANSWER,
    SEGMENT_BATCH_BODY,
    SEGMENT_BODY,
    SEGMENT_REQUEST,
)
from services.ingest.routes.common import (
    authenticate,
    batch_answer,
    check_signature,
    observed,
    parts,
)
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


def segment_item(
    call: Any, shop: ShopAccess, default_type: str | None, *, may_hold_nul: bool = False
) -> Item:
    """One call's events; `may_hold_nul`: the body contains a NUL escape, so look for one."""
    if not isinstance(call, dict):
        return Item(errors=[FieldError("(item)", "expected a call object")])
    ref = call.get("messageId") if isinstance(call.get("messageId"), str) else None
    if may_hold_nul and (field := nul_field(call)) is not None:
        return Item(ref=ref, errors=[FieldError(field, NUL_REASON)])
    try:
        events = map_segment_call(call, shop_id=shop.shop_id, default_type=default_type)
    except MappingError as exc:
        return Item(ref=ref, errors=[FieldError(exc.field, exc.reason)])
    if not events:
        name = call.get("event")
        return Item(ref=ref, ignored_reason=f"no Nudge event for {name or call.get('type')!r}")
    return Item(events=list(events), ref=ref)


async def _calls(request: Request) -> tuple[ShopAccess, dict[str, Any], bool]:
    """The shop, the parsed body, and whether the body may hold a NUL character."""
    p = parts(request)
    require_json(request)
    shop = await authenticate(request)
    raw = await read_capped(request, p.settings.max_body_bytes, p.settings.body_timeout_s)
    check_signature(request, shop, raw)
    return shop, json_object(parse_json(raw), "a Segment call"), NUL_ESCAPE in raw


async def _single(request: Request, kind: str) -> Response:
    shop, call, may_hold_nul = await _calls(request)
    item = segment_item(call, shop, kind, may_hold_nul=may_hold_nul)
    results = await parts(request).intake.submit(shop, [item])
    return batch_answer(results)


@router.post(
    "/v1/track",
    summary="Segment track call",
    openapi_extra={"requestBody": SEGMENT_BODY, "responses": RESULTS_ANSWER, **SEGMENT_REQUEST},
)
@observed("/v1/track")
async def post_track(request: Request) -> Response:
    return await _single(request, "track")


@router.post(
    "/v1/identify",
    summary="Segment identify call",
    openapi_extra={"requestBody": SEGMENT_BODY, "responses": RESULTS_ANSWER, **SEGMENT_REQUEST},
)
@observed("/v1/identify")
async def post_identify(request: Request) -> Response:
    return await _single(request, "identify")


@router.post(
    "/v1/batch",
    summary="Segment batch of track and identify calls",
    openapi_extra={
        "requestBody": SEGMENT_BATCH_BODY,
        "responses": RESULTS_ANSWER,
        **SEGMENT_REQUEST,
    },
)
@observed("/v1/batch")
async def post_batch(request: Request) -> Response:
    p = parts(request)
    shop, body, may_hold_nul = await _calls(request)
    calls = body.get("batch")
    if not isinstance(calls, list) or not calls:
        raise problems.invalid(
            "the body needs a non-empty 'batch' array",
            [FieldError("batch", "expected a non-empty array of calls")],
        )
    if len(calls) > p.settings.max_batch_events:
        raise problems.too_large(
            f"batch has {len(calls)} calls; at most {p.settings.max_batch_events} per request"
        )
    items = [segment_item(call, shop, None, may_hold_nul=may_hold_nul) for call in calls]
    return batch_answer(await p.intake.submit(shop, items))
