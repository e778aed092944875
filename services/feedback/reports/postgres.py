"""The report store in PostgreSQL: `feedback_report_*` (migration 0012).

Facts are inserted and counted in one statement: the rows the insert really added (`RETURNING`
gives only those, not the keys held already) are what the counts and the revenue grow by, so a
replay moves nothing, and two consumers counting at once (a rebalance) cannot both count a
fact. Rows are written in key order, so concurrent writers take their row locks in one order.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from services.feedback.reports.facts import Answer, Metric
from services.feedback.reports.store import (
    Batch,
    Counted,
    Earned,
    MessageKey,
    Stored,
    Tagged,
    campaign_of,
    latest_answers,
)
from shared.events.feedback import SurveyKind

_FACTS = text(
    """
WITH input AS (
    SELECT DISTINCT ON (shop_id, metric, subject) *
    FROM unnest(
        CAST(:shops AS text[]), CAST(:metrics AS text[]), CAST(:subjects AS text[]),
        CAST(:campaigns AS text[]), CAST(:days AS date[]), CAST(:currencies AS text[]),
        CAST(:amounts AS numeric[])
    ) AS i(shop_id, metric, subject, campaign_id, day, currency, amount)
    ORDER BY shop_id, metric, subject
), new AS (
    INSERT INTO feedback_report_facts AS f
        (shop_id, metric, subject, campaign_id, day, currency, amount)
    SELECT shop_id, metric, subject, campaign_id, day, currency, amount FROM input
    ON CONFLICT DO NOTHING
    RETURNING f.shop_id, f.metric, f.campaign_id, f.day, f.currency, f.amount
), counted AS (
    INSERT INTO feedback_report_counts AS c (shop_id, campaign_id, day, metric, count)
    SELECT shop_id, campaign_id, day, metric, count(*) FROM new
    GROUP BY shop_id, campaign_id, day, metric
    ORDER BY shop_id, campaign_id, day, metric
    ON CONFLICT (shop_id, campaign_id, day, metric)
    DO UPDATE SET count = c.count + EXCLUDED.count
)
INSERT INTO feedback_report_revenue AS r (shop_id, campaign_id, day, currency, amount)
SELECT shop_id, campaign_id, day, currency, sum(amount) FROM new
WHERE currency IS NOT NULL
GROUP BY shop_id, campaign_id, day, currency
ORDER BY shop_id, campaign_id, day, currency
ON CONFLICT (shop_id, campaign_id, day, currency)
DO UPDATE SET amount = r.amount + EXCLUDED.amount
"""
)
_ANSWER = text(
    """
INSERT INTO feedback_report_answers AS a
    (shop_id, invitation, campaign_id, day, survey, score, answered_at, event_id, message_id,
     tags)
VALUES (:shop_id, :invitation, :campaign_id, :day, :survey, :score, :answered_at, :event_id,
        :message_id, CAST(:tags AS text[]))
ON CONFLICT (shop_id, invitation) DO UPDATE SET
    campaign_id = EXCLUDED.campaign_id, day = EXCLUDED.day, survey = EXCLUDED.survey,
    score = EXCLUDED.score, answered_at = EXCLUDED.answered_at, event_id = EXCLUDED.event_id,
    message_id = EXCLUDED.message_id, tags = EXCLUDED.tags
WHERE (EXCLUDED.answered_at, EXCLUDED.event_id COLLATE "C")
    > (a.answered_at, a.event_id COLLATE "C")
"""
)
_REPLY = text(
    """
INSERT INTO feedback_report_replies (shop_id, event_id, campaign_id, day, message_id, tags)
VALUES (:shop_id, :event_id, :campaign_id, :day, :message_id, CAST(:tags AS text[]))
ON CONFLICT DO NOTHING
"""
)
_CAMPAIGNS = text(
    """
SELECT shop_id, subject, campaign_id FROM feedback_report_facts
WHERE metric = 'sent' AND (shop_id, subject) IN (
    SELECT a, b FROM unnest(CAST(:shops AS text[]), CAST(:messages AS text[])) AS pairs(a, b)
)
"""
)
_WHERE = (
    "shop_id = :shop AND day BETWEEN :first AND :last"
    " AND (CAST(:campaign AS text) IS NULL OR campaign_id = CAST(:campaign AS text))"
)
_COUNTS = text(
    f"SELECT campaign_id, day, metric, count AS n FROM feedback_report_counts WHERE {_WHERE}"
)
_REVENUE = text(
    f"SELECT campaign_id, day, currency, amount FROM feedback_report_revenue WHERE {_WHERE}"
)
_ANSWERS = text(
    "SELECT shop_id, invitation, survey, score, answered_at, event_id, tags, campaign_id,"
    f" message_id FROM feedback_report_answers WHERE {_WHERE}"
)
_REPLY_TAGS = text(
    f"""
SELECT campaign_id, day, tag, count(DISTINCT event_id) AS n
FROM feedback_report_replies, unnest(tags) AS tag
WHERE {_WHERE}
GROUP BY campaign_id, day, tag
"""
)


class PostgresReportStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def record(self, batch: Batch) -> None:
        if not (batch.facts or batch.answers or batch.replies):
            return
        async with self._engine.begin() as conn:
            if batch.facts:
                await conn.execute(_FACTS, _fact_columns(batch))
            answers = latest_answers(batch.answers)
            if answers:
                await conn.execute(_ANSWER, [_answer_params(a) for a in answers])
            if batch.replies:
                replies = [
                    {
                        "shop_id": r.shop_id,
                        "event_id": r.event_id,
                        "campaign_id": campaign_of(r),
                        "day": r.day,
                        "message_id": r.message_id,
                        "tags": list(r.tags),
                    }
                    for r in batch.replies
                ]
                await conn.execute(_REPLY, replies)

    async def campaigns(self, messages: Collection[MessageKey]) -> dict[MessageKey, str]:
        if not messages:
            return {}
        pairs = sorted(set(messages))
        params = {"shops": [s for s, _ in pairs], "messages": [m for _, m in pairs]}
        async with self._engine.connect() as conn:
            result = await conn.execute(_CAMPAIGNS, params)
            return {(row.shop_id, row.subject): row.campaign_id for row in result}

    async def read(
        self, shop_id: str, first: date, last: date, campaign_id: str | None = None
    ) -> Stored:
        params = {"shop": shop_id, "first": first, "last": last, "campaign": campaign_id}
        async with self._engine.connect() as conn:
            counts = [
                Counted(r.campaign_id, r.day, Metric(r.metric), r.n)
                for r in await conn.execute(_COUNTS, params)
            ]
            revenue = [
                Earned(r.campaign_id, r.day, r.currency, r.amount)
                for r in await conn.execute(_REVENUE, params)
            ]
            answers = [_answer(r) for r in (await conn.execute(_ANSWERS, params)).mappings()]
            tags = [
                Tagged(r.campaign_id, r.day, r.tag, r.n)
                for r in await conn.execute(_REPLY_TAGS, params)
            ]
        return Stored(counts, revenue, answers, tags)


def _fact_columns(batch: Batch) -> dict[str, list[Any]]:
    facts = batch.facts
    return {
        "shops": [f.shop_id for f in facts],
        "metrics": [f.metric.value for f in facts],
        "subjects": [f.subject for f in facts],
        "campaigns": [campaign_of(f) for f in facts],
        "days": [f.day for f in facts],
        "currencies": [None if f.revenue is None else f.revenue.currency for f in facts],
        "amounts": [None if f.revenue is None else f.revenue.amount for f in facts],
    }


def _answer_params(answer: Answer) -> dict[str, Any]:
    return {
        "shop_id": answer.shop_id,
        "invitation": answer.invitation,
        "campaign_id": campaign_of(answer),
        "day": answer.day,
        "survey": answer.survey.value,
        "score": answer.score,
        "answered_at": answer.at,
        "event_id": answer.event_id,
        "message_id": answer.message_id,
        "tags": list(answer.tags),
    }


def _answer(row: RowMapping) -> Answer:
    return Answer(
        shop_id=row["shop_id"],
        invitation=row["invitation"],
        survey=SurveyKind(row["survey"]),
        score=row["score"],
        at=row["answered_at"],
        event_id=row["event_id"],
        tags=tuple(row["tags"]),
        campaign_id=row["campaign_id"],
        message_id=row["message_id"],
    )
