"""Reports: what each campaign of a shop did over a period (services/feedback/reports/).

- `GET /v1/reports/campaigns?from=YYYY-MM-DD&to=YYYY-MM-DD`: every campaign of the caller's
  shop with anything on the period, and their total (JSON).
- `GET /v1/reports/campaigns/{campaign_id}?from&to&granularity=day|week`: one campaign, in
  total and per day or week (JSON).

  Both take the shop's API key (`Authorization: Bearer <key>`, or Basic with the key as user
  name), checked before anything else; a key reads its own shop only: the shop comes from the
  key, never from the request.
- `GET /reports/{token}` and `/reports/{token}/campaigns/{campaign_id}`: the same as a page
  with a chart, for a signed report link (`nudge reports url`; reports/links.py says why a link
  and not the API key). A shop-wide link shows every campaign and links to each; a campaign's
  link shows that campaign only.

Every refusal names its parameter; PostgreSQL not answering within
NUDGE_FEEDBACK_REPORT_TIMEOUT_S is a 503 with Retry-After, never a hung request.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from services.feedback import metrics
from services.feedback.parts import Parts, parts
from services.feedback.reports import links, openapi, pages
from services.feedback.reports.models import CampaignList, CampaignReport
from services.feedback.reports.period import Period, PeriodRefused, read_period
from services.feedback.reports.report import campaign_list, campaign_report, check_campaign
from services.feedback.surveys.pages import shop_name
from shared.http import problems
from shared.http.api_keys import presented_key
from shared.http.openapi import Answers
from shared.http.routes import DirectRoute, Handler, observing

router = APIRouter(route_class=DirectRoute)
observed = observing(metrics.REQUESTS, metrics.REQUEST_SECONDS)
JSON_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _period(p: Parts, request: Request, *, granular: bool) -> Period:
    query = request.query_params
    try:
        return read_period(
            {name: query.getlist(name) for name in query},
            today=p.clock.now().astimezone(UTC).date(),
            max_days=p.settings.report_max_days,
            granular=granular,
        )
    except PeriodRefused as exc:
        raise problems.invalid("the report's period is not valid", exc.errors) from None


async def _caller(p: Parts, request: Request) -> str:
    """The shop of the request's API key (401 otherwise)."""
    _snapshot, shop_id = await p.reports.api_keys.owner_of(presented_key(request))
    return shop_id


def _json(model: BaseModel) -> Response:
    body = model.model_dump_json(by_alias=True)
    return Response(body, media_type="application/json", headers=JSON_HEADERS)


def _limits(p: Parts) -> dict[str, Any]:
    return {"timeout_s": p.settings.report_timeout_s, "retry_after_s": p.settings.retry_after_s}


def json_route(
    path: str, name: str, summary: str, model: type[BaseModel], answers: Answers, params: list[Any]
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
    "/v1/reports/campaigns",
    "report_campaigns",
    "Every campaign of the caller's shop over a period, and their total",
    CampaignList,
    openapi.json_answers("CampaignList", "The campaigns with anything on the period"),
    openapi.PERIOD,
)
@observed("GET /v1/reports/campaigns")
async def campaigns(request: Request) -> Response:
    p = parts(request)
    shop_id = await _caller(p, request)
    period = _period(p, request, granular=False)
    return _json(await campaign_list(p.reports.store, shop_id, period, **_limits(p)))


@json_route(
    "/v1/reports/campaigns/{campaign_id}",
    "report_campaign",
    "One campaign of the caller's shop over a period, in total and per day or week",
    CampaignReport,
    openapi.json_answers("CampaignReport", "The campaign's figures (zeros when it had none)"),
    [openapi.CAMPAIGN, *openapi.GRANULAR],
)
@observed("GET /v1/reports/campaigns/{campaign_id}")
async def campaign(request: Request) -> Response:
    p = parts(request)
    shop_id = await _caller(p, request)
    campaign_id = check_campaign(request.path_params["campaign_id"])
    period = _period(p, request, granular=True)
    found = await campaign_report(p.reports.store, shop_id, campaign_id, period, **_limits(p))
    return _json(found)


def as_pages(handler: Handler) -> Handler:
    """Every refusal of a page route as a page (errors name the parameter)."""

    @functools.wraps(handler)
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except problems.Problem as problem:
            return pages.problem(problem.status, problem.detail, problem.errors, problem.headers)

    return run


def page_route(
    path: str, name: str, summary: str, params: list[Any]
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        router.add_api_route(
            path,
            handler,
            methods=["GET"],
            operation_id=name,
            summary=summary,
            response_class=Response,
            openapi_extra={"parameters": params, "responses": openapi.PAGE_ANSWERS},
        )
        return handler

    return register


def _link(p: Parts, request: Request) -> tuple[str, links.ReportLink]:
    """The link in the path: 404 when no key of ours signed it, 410 when it expired (by the
    wall clock: its expiry is a person's time, not the events')."""
    token: str = request.path_params["token"]
    found = links.verify(p.link_keys, token, datetime.now(UTC))
    if found is None:
        raise problems.from_status(404, "this report link is not valid")
    if isinstance(found, links.Expired):
        raise problems.from_status(410, "this report link has expired")
    return token, found


def _shop(p: Parts, shop_id: str) -> str:
    """How the page names the shop: its name in the registry, else as the survey pages do."""
    if p.reports.api_keys.ready:
        name = p.reports.api_keys.current().shop_names.get(shop_id)
        if name:
            return name
    return shop_name(p.sms, shop_id)


@page_route(
    "/reports/{token}",
    "report_page",
    "The report page of a signed report link: every campaign, or the link's one campaign",
    [openapi.TOKEN, *openapi.GRANULAR],
)
@observed("GET /reports/{token}")
@as_pages
async def report_page(request: Request) -> Response:
    p = parts(request)
    token, link = _link(p, request)
    period = _period(p, request, granular=link.campaign_id is not None)
    shop = _shop(p, link.shop_id)
    if link.campaign_id is None:
        found = await campaign_list(p.reports.store, link.shop_id, period, **_limits(p))
        return pages.campaigns_page(found, shop=shop, base=f"/reports/{token}")
    report = await campaign_report(
        p.reports.store, link.shop_id, link.campaign_id, period, **_limits(p)
    )
    return pages.campaign_page(report, shop=shop, action=f"/reports/{token}", back=None)


@page_route(
    "/reports/{token}/campaigns/{campaign_id}",
    "report_campaign_page",
    "One campaign's report page, from a shop-wide report link",
    [openapi.TOKEN, openapi.CAMPAIGN, *openapi.GRANULAR],
)
@observed("GET /reports/{token}/campaigns/{campaign_id}")
@as_pages
async def report_campaign_page(request: Request) -> Response:
    p = parts(request)
    token, link = _link(p, request)
    campaign_id = check_campaign(request.path_params["campaign_id"])
    if link.campaign_id is not None and link.campaign_id != campaign_id:
        raise problems.from_status(404, "this report link is not valid")
    period = _period(p, request, granular=True)
    report = await campaign_report(p.reports.store, link.shop_id, campaign_id, period, **_limits(p))
    back = None if link.campaign_id else f"/reports/{token}?from={period.first}&to={period.last}"
    action = f"/reports/{token}/campaigns/{campaign_id}"
    return pages.campaign_page(report, shop=_shop(p, link.shop_id), action=action, back=back)
