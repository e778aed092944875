"""The JSON a report answers (`GET /v1/reports/...`), as pydantic models: what the OpenAPI
document publishes and what the routes serialise."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.feedback.reports import figures
from services.feedback.reports.facts import Metric
from services.feedback.reports.period import Granularity, Period


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)


class Revenue(_Out):
    currency: str = Field(description="ISO 4217 code")
    amount: str = Field(description="A decimal string, the sum of the orders in that currency")


class Csat(_Out):
    score: float | None = Field(description="Percent of answers that are 4 or 5; null: none")
    answers: int = Field(description="Answers it rests on (the latest per invitation)")
    satisfied: int


class Nps(_Out):
    score: float | None = Field(
        description="Percent promoters (9-10) minus percent detractors (0-6); null: none"
    )
    answers: int = Field(description="Answers it rests on (the latest per invitation)")
    promoters: int
    passives: int
    detractors: int


class TagCount(_Out):
    tag: str
    count: int = Field(description="Survey answers and replies carrying the tag")


class Figures(_Out):
    """What a campaign (or a bucket, or all) did; counts are per message unless said."""

    sent: int
    delivered: int = Field(description="SMS the provider delivered, email the server accepted")
    bounced: int
    failed: int = Field(description="Never sent: dispatch gave up")
    opened: int = Field(description="Messages opened by a person")
    clicked: int = Field(description="Messages with a link followed by a person")
    machine_opened: int = Field(description="Messages whose pixel a machine fetched")
    machine_clicked: int = Field(description="Messages whose links a scanner followed")
    replied: int
    unsubscribed: int
    complained: int
    converted: int = Field(description="Orders attributed")
    revenue: list[Revenue] = Field(description="Attributed revenue per currency")
    csat: Csat
    nps: Nps
    top_tags: list[TagCount]

    @classmethod
    def of(cls, found: figures.Figures) -> Figures:
        return cls(
            **{metric.value: found.count(metric) for metric in Metric},
            revenue=[
                Revenue(currency=c, amount=format(a.normalize(), "f"))
                for c, a in found.revenue.items()
            ],
            csat=Csat(
                score=found.csat.score,
                answers=found.csat.answers,
                satisfied=found.csat.satisfied,
            ),
            nps=Nps(
                score=found.nps.score,
                answers=found.nps.answers,
                promoters=found.nps.promoters,
                passives=found.nps.passives,
                detractors=found.nps.detractors,
            ),
            top_tags=[TagCount(tag=t, count=n) for t, n in found.top_tags],
        )


class PeriodOut(_Out):
    first: date = Field(alias="from", description="The first day, included")
    last: date = Field(alias="to", description="The last day, included")
    days: int
    time_zone: Literal["UTC"] = "UTC"

    @classmethod
    def of(cls, period: Period) -> PeriodOut:
        return cls(first=period.first, last=period.last, days=period.days)


class CampaignSummary(_Out):
    campaign_id: str
    figures: Figures


class CampaignList(_Out):
    """Every campaign of the shop with anything on the period, and their total."""

    shop_id: str
    period: PeriodOut
    campaigns: list[CampaignSummary]
    total: Figures


class Bucket(_Out):
    start: date
    end: date
    figures: Figures


class CampaignReport(_Out):
    """One campaign over the period, in total and per day or week."""

    shop_id: str
    campaign_id: str
    period: PeriodOut
    granularity: Granularity
    total: Figures
    series: list[Bucket]
