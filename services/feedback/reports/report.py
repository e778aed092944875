"""A report as the routes answer it: read from the store within a deadline, then summed up
(figures.py) into the JSON models (models.py) that the page renders too."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Final

from sqlalchemy.exc import SQLAlchemyError

from services.feedback.reports import figures
from services.feedback.reports.models import (
    Bucket,
    CampaignList,
    CampaignReport,
    CampaignSummary,
    Figures,
    PeriodOut,
)
from services.feedback.reports.period import Period
from services.feedback.reports.store import ReportStore, Stored
from shared.http import problems

log = logging.getLogger(__name__)

CAMPAIGN_ID: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
"""A campaign id as campaign files allow it (shared/events/triggers.py), `unattributed` too."""
CAMPAIGN_RULE: Final = "must be a campaign id: 1-64 lower-case letters, digits, '-' or '_'"


def check_campaign(campaign_id: str, field: str = "path.campaign_id") -> str:
    if not CAMPAIGN_ID.fullmatch(campaign_id):
        raise problems.invalid(
            "the campaign id is not valid", [problems.FieldError(field, CAMPAIGN_RULE)]
        )
    return campaign_id


async def _read(
    store: ReportStore,
    shop_id: str,
    period: Period,
    campaign_id: str | None,
    *,
    timeout_s: float,
    retry_after_s: int,
) -> Stored:
    """What the store holds for the period; 503 (Retry-After) when PostgreSQL does not answer
    within `timeout_s`."""
    try:
        async with asyncio.timeout(timeout_s):
            return await store.read(shop_id, period.first, period.last, campaign_id)
    except (TimeoutError, SQLAlchemyError, OSError) as exc:
        log.warning("a report of %s could not be read: %r", shop_id, exc)
        raise problems.unavailable(
            "the report store did not answer in time; try again in a moment", retry_after_s
        ) from None


async def campaign_list(
    store: ReportStore, shop_id: str, period: Period, *, timeout_s: float, retry_after_s: int
) -> CampaignList:
    stored = await _read(
        store, shop_id, period, None, timeout_s=timeout_s, retry_after_s=retry_after_s
    )
    return CampaignList(
        shop_id=shop_id,
        period=PeriodOut.of(period),
        campaigns=[
            CampaignSummary(campaign_id=campaign, figures=Figures.of(found))
            for campaign, found in figures.by_campaign(stored)
        ],
        total=Figures.of(figures.total(stored)),
    )


async def campaign_report(
    store: ReportStore,
    shop_id: str,
    campaign_id: str,
    period: Period,
    *,
    timeout_s: float,
    retry_after_s: int,
) -> CampaignReport:
    stored = await _read(
        store, shop_id, period, campaign_id, timeout_s=timeout_s, retry_after_s=retry_after_s
    )
    return CampaignReport(
        shop_id=shop_id,
        campaign_id=campaign_id,
        period=PeriodOut.of(period),
        granularity=period.granularity,
        total=Figures.of(figures.total(stored)),
        series=[
            Bucket(start=start, end=end, figures=Figures.of(found))
            for start, end, found in figures.series(stored, period)
        ],
    )
