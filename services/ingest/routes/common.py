"""What every route shares: the service's parts, authentication, metrics, JSON answers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from fastapi import Request, Response

from services.ingest import metrics
from services.ingest.access import SIGNATURE_HEADER, Access
from services.ingest.intake import Intake, ItemResult
from services.ingest.order_owners import OrderOwners
from services.ingest.settings import IngestSettings
from shared.http.api_keys import presented_key
from shared.http.body import UnverifiedBodies
from shared.http.routes import Handler, observing
from shared.publisher import EventPublisher
from shared.tenancy import ShopAccess

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Parts:
    """The service's collaborators, kept on `app.state.parts`."""

    settings: IngestSettings
    access: Access
    publisher: EventPublisher
    intake: Intake
    owners: OrderOwners
    unverified: UnverifiedBodies


def parts(request: Request) -> Parts:
    found: Parts = request.app.state.parts
    return found


def json_response(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


observed: Callable[[str], Callable[[Handler], Handler]] = observing(
    metrics.REQUESTS, metrics.REQUEST_SECONDS
)
"""Count and time the request, and render a raised Problem as its error answer."""


async def authenticate(request: Request) -> ShopAccess:
    """The shop of the request's API key: checked before the body is read, so an unknown
    caller never makes the server hold a body."""
    return await parts(request).access.shop_for_key(presented_key(request))


def check_signature(request: Request, shop: ShopAccess, raw_body: bytes) -> None:
    """The optional (or required) `Nudge-Signature` over the body."""
    parts(request).access.check_signature(shop, request.headers.get(SIGNATURE_HEADER), raw_body)


def batch_answer(results: list[ItemResult]) -> Response:
    """200 when anything was taken (or already had been), 422 when every item was refused."""
    counts = {"accepted": 0, "duplicate": 0, "rejected": 0, "ignored": 0}
    for result in results:
        counts[result.status] += 1
    body = {**counts, "results": [r.as_json() for r in results]}
    refused_all = counts["rejected"] == len(results) and results
    return json_response(body, 422 if refused_all else 200)
