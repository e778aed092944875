"""How the report routes document themselves: parameters, security, every answer."""

from __future__ import annotations

from typing import Any

from fastapi import Depends
from fastapi.security import HTTPBasic, HTTPBearer

from services.feedback.reports.links import LONGEST_TTL
from services.feedback.reports.period import DEFAULT_DAYS, FROM, GRANULARITY, TO, Granularity
from shared.http.openapi import ANY_ROUTE_ERRORS, PROBLEM_CONTENT, Answers, problem

API_KEY = [
    Depends(HTTPBearer(scheme_name="apiKey", description="The shop's API key (nk_...)")),
    Depends(
        HTTPBasic(
            scheme_name="apiKeyAsBasicUser",
            description="The API key as the Basic user name (any password)",
        )
    ),
]
"""Documentation only: the routes read the key themselves (shared/http/api_keys.py)."""


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", **schema},
    }


PERIOD = [
    _query(
        FROM, f"First UTC day, included (default: {DEFAULT_DAYS} days before `to`)", format="date"
    ),
    _query(TO, "Last UTC day, included (default: today)", format="date"),
]
GRANULAR = [
    *PERIOD,
    _query(
        GRANULARITY, "Buckets of the series (default: day)", enum=[g.value for g in Granularity]
    ),
]
CAMPAIGN = {
    "name": "campaign_id",
    "in": "path",
    "required": True,
    "description": "The campaign (`unattributed`: what no campaign could be found for)",
    "schema": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"},
}
TOKEN = {
    "name": "token",
    "in": "path",
    "required": True,
    "description": "The signed report link `nudge reports url` printed (`<kid>.<payload>.<mac>`; "
    f"it names the shop, maybe one campaign, and expires within {LONGEST_TTL.days} days)",
    "schema": {"type": "string", "maxLength": 1024},
}


def json_answers(model: str, description: str) -> Answers:
    return {
        **ANY_ROUTE_ERRORS,
        "200": {
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model}"}}},
        },
        "401": problem("Missing, unknown or expired API key"),
        "422": problem("A parameter is not valid (errors name it)"),
        "503": problem(
            "The report store did not answer in time, shop credentials not loaded yet, or too "
            "many connections (Retry-After)"
        ),
    }


_HTML = {"text/html": {"schema": {"type": "string"}}}


def _page(description: str) -> dict[str, Any]:
    return {"description": description, "content": _HTML}


def _page_or_problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {**PROBLEM_CONTENT, **_HTML}}


PAGE_ANSWERS: Answers = {
    **ANY_ROUTE_ERRORS,
    "200": _page("The report page: a chart (inline SVG) and the same figures in tables"),
    "404": _page(
        "Not a report link of ours (unknown, altered, another kind of link, a retired key), "
        "or a campaign the link does not cover: a page that says so, without detail"
    ),
    "410": _page("A genuine report link past its expiry"),
    "422": _page("A parameter is not valid: a page naming it"),
    "503": _page_or_problem("The report store did not answer in time (Retry-After)"),
}
