"""The read API's routes: a customer's profile and segments, a shop's segments and their sizes,
a page of a segment's members.

- `GET /v1/customers/{customer_id}`: the customer's profile, with its segment memberships.
- `GET /v1/segments`: the shop's segments with at least one customer, and their sizes.
- `GET /v1/segments/{segment_id}`: one segment's size (0 for a segment no one is in: the
  projection knows memberships, not the rules, so it cannot tell an empty segment from an
  unknown one).
- `GET /v1/segments/{segment_id}/members?limit=&cursor=`: a page of its customers in customer id
  order, keyset-paginated with an opaque cursor (cursor.py).

Each takes the shop's API key (`Authorization: Bearer <key>`, or Basic with the key as user
name), checked before anything else; the shop comes from the key, never from the request, and
every read names it: a customer of another shop is a 404, as one that does not exist (never a
403, which would say it exists). Anonymous visitors are not customers: never shown, never
counted. Every refusal names its parameter; PostgreSQL not answering within
NUDGE_SEGMENTER_API_READ_TIMEOUT_S is a 503 with Retry-After, never a hung request.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from sqlalchemy.exc import SQLAlchemyError

from services.segmenter.api import cursor, metrics, openapi
from services.segmenter.api.models import (
    CustomerOut,
    MemberOut,
    MemberPage,
    SegmentList,
    SegmentOut,
    SegmentSizeOut,
)
from services.segmenter.api.parts import Parts, parts
from services.segmenter.api.settings import SegmenterApiSettings
from shared.http import problems
from shared.http.api_keys import presented_key
from shared.http.openapi import Answers
from shared.http.routes import DirectRoute, Handler, observing

log = logging.getLogger(__name__)
router = APIRouter(route_class=DirectRoute)
observed = observing(metrics.REQUESTS, metrics.REQUEST_SECONDS)
JSON_HEADERS: Final = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
SEGMENT_ID: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}")
"""A segment id as segment rules allow it (shared/events/segments.py)."""
LIMIT: Final = re.compile(r"[0-9]{1,6}")
_DEFAULT_PAGE: Final = SegmenterApiSettings.model_fields["page_size"].default
_LARGEST_PAGE: Final = SegmenterApiSettings.model_fields["max_page_size"].default
T = TypeVar("T")


async def _caller(p: Parts, request: Request) -> str:
    """The shop of the request's API key (401 otherwise)."""
    _snapshot, shop_id = await p.api_keys.owner_of(presented_key(request))
    return shop_id


async def _read(p: Parts, shop_id: str, read: Awaitable[T]) -> T:
    """What the projection answers; 503 (Retry-After) when PostgreSQL does not answer in time."""
    try:
        async with asyncio.timeout(p.settings.read_timeout_s):
            return await read
    except (TimeoutError, SQLAlchemyError, OSError) as exc:
        log.warning("a read for %s failed: %r", shop_id, exc)
        raise problems.unavailable(
            "the profiles did not answer in time; try again in a moment", p.settings.retry_after_s
        ) from None


def _refused(field: str, reason: str) -> problems.Problem:
    return problems.invalid("a parameter is not valid", [problems.FieldError(field, reason)])


def _segment(request: Request) -> str:
    segment_id: str = request.path_params["segment_id"]
    if not SEGMENT_ID.fullmatch(segment_id):
        raise _refused(
            "path.segment_id",
            "must be a segment id: 1-100 lower-case letters, digits, '_', '.' or '-', "
            "starting with a letter or digit",
        )
    return segment_id


def _one(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise _refused(f"query.{name}", "is given more than once")
    return values[0] if values else None


def _limit(p: Parts, request: Request) -> int:
    raw = _one(request, "limit")
    if raw is None:
        return p.settings.page_size
    largest = p.settings.max_page_size
    if not LIMIT.fullmatch(raw) or not 1 <= int(raw) <= largest:
        raise _refused("query.limit", f"must be a whole number from 1 to {largest}")
    return int(raw)


def _json(model: BaseModel) -> Response:
    return Response(model.model_dump_json(), media_type="application/json", headers=JSON_HEADERS)


def json_route(
    path: str,
    name: str,
    summary: str,
    model: type[BaseModel],
    answers: Answers,
    params: list[Any],
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        router.add_api_route(
            path,
            handler,
            methods=["GET"],
            operation_id=name,
            summary=summary,
            response_model=model,
            dependencies=openapi.API_KEY,
            openapi_extra={"parameters": params, "responses": answers},
        )
        return handler

    return register


@json_route(
    "/v1/customers/{customer_id:path}",
    "customer_profile",
    "A customer's profile and segments",
    CustomerOut,
    openapi.answers(
        "CustomerOut",
        "The customer's latest profile",
        not_found="No such customer of the caller's shop (another shop's is not found either)",
    ),
    [openapi.CUSTOMER],
)
@observed("GET /v1/customers/{customer_id}")
async def customer(request: Request) -> Response:
    p = parts(request)
    shop_id = await _caller(p, request)
    customer_id: str = request.path_params["customer_id"]
    if not 1 <= len(customer_id) <= 255:
        raise _refused("path.customer_id", "must be 1 to 255 characters")
    found = await _read(p, shop_id, p.store.profile(shop_id, customer_id))
    if found is None:
        raise problems.from_status(404, "no such customer")
    out = CustomerOut(
        shop_id=shop_id, customer_id=found.customer_id, as_of=found.as_of, profile=found.profile
    )
    return _json(out)


@json_route(
    "/v1/segments",
    "segments",
    "The caller's shop's segments and their sizes",
    SegmentList,
    openapi.answers("SegmentList", "Every segment with at least one customer", params=False),
    [],
)
@observed("GET /v1/segments")
async def segments(request: Request) -> Response:
    p = parts(request)
    shop_id = await _caller(p, request)
    found = await _read(p, shop_id, p.store.segments(shop_id))
    listed = [SegmentOut(segment_id=s.segment_id, size=s.size) for s in found]
    return _json(SegmentList(shop_id=shop_id, segments=listed))


@json_route(
    "/v1/segments/{segment_id}",
    "segment_size",
    "One segment's size",
    SegmentSizeOut,
    openapi.answers("SegmentSizeOut", "How many customers are in the segment (0: none)"),
    [openapi.SEGMENT],
)
@observed("GET /v1/segments/{segment_id}")
async def segment(request: Request) -> Response:
    p = parts(request)
    shop_id = await _caller(p, request)
    segment_id = _segment(request)
    size = await _read(p, shop_id, p.store.size(shop_id, segment_id))
    return _json(SegmentSizeOut(shop_id=shop_id, segment_id=segment_id, size=size))


@json_route(
    "/v1/segments/{segment_id}/members",
    "segment_members",
    "A page of a segment's members, in customer id order",
    MemberPage,
    openapi.answers("MemberPage", "A page of members (empty past the last)"),
    [openapi.SEGMENT, *openapi.page(_DEFAULT_PAGE, _LARGEST_PAGE)],
)
@observed("GET /v1/segments/{segment_id}/members")
async def members(request: Request) -> Response:
    p = parts(request)
    shop_id = await _caller(p, request)
    segment_id = _segment(request)
    limit = _limit(p, request)
    given = _one(request, "cursor")
    after = cursor.decode(segment_id, given) if given else None
    found = await _read(p, shop_id, p.store.members(shop_id, segment_id, after, limit + 1))
    page = found[:limit]
    more = len(found) > limit
    return _json(
        MemberPage(
            shop_id=shop_id,
            segment_id=segment_id,
            members=[
                MemberOut(customer_id=m.customer_id, since=m.since, rule_version=m.rule_version)
                for m in page
            ],
            next_cursor=cursor.encode(segment_id, page[-1].customer_id) if more else None,
        )
    )
