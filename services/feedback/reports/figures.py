"""A report's figures from what the store holds, as pure functions: per campaign, per day or
week bucket, and in total.

Counts add up; revenue adds up per currency only; CSAT and NPS are computed from the answers
themselves (services/feedback/surveys/scores.py, the latest answer per invitation), never by
averaging other scores, each with the answers it rests on; top tags count the answers and
replies carrying each tag.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Final, TypeVar

from services.feedback.reports.facts import UNATTRIBUTED, Answer, Metric
from services.feedback.reports.period import Period
from services.feedback.reports.store import Counted, Earned, Stored, Tagged
from services.feedback.surveys import scores
from shared.events.feedback import SurveyKind

TOP_TAGS: Final = 10
K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Csat:
    score: float | None
    """Percent of answers that are 4 or 5; None without answers."""
    answers: int
    satisfied: int


@dataclass(frozen=True)
class Nps:
    score: float | None
    """Percent promoters minus percent detractors; None without answers."""
    answers: int
    promoters: int
    passives: int
    detractors: int


@dataclass(frozen=True)
class Figures:
    counts: Mapping[Metric, int] = field(default_factory=dict)
    revenue: Mapping[str, Decimal] = field(default_factory=dict)
    """Currency -> amount, never added across currencies."""
    csat: Csat = Csat(None, 0, 0)
    nps: Nps = Nps(None, 0, 0, 0, 0)
    top_tags: tuple[tuple[str, int], ...] = ()

    def count(self, metric: Metric) -> int:
        return self.counts.get(metric, 0)


def _scored(answer: Answer) -> scores.Scored:
    return scores.Scored(answer.invitation, answer.survey, answer.score, answer.at, answer.event_id)


def csat(answers: Iterable[Answer]) -> Csat:
    counted = scores.latest_per_invitation(
        _scored(a) for a in answers if a.survey is SurveyKind.CSAT
    )
    satisfied = sum(1 for a in counted if a.score in scores.SATISFIED)
    return Csat(scores.csat(counted), len(counted), satisfied)


def nps(answers: Iterable[Answer]) -> Nps:
    counted = scores.latest_per_invitation(
        _scored(a) for a in answers if a.survey is SurveyKind.NPS
    )
    promoters = sum(1 for a in counted if a.score in scores.PROMOTERS)
    detractors = sum(1 for a in counted if a.score in scores.DETRACTORS)
    passives = len(counted) - promoters - detractors
    return Nps(scores.nps(counted), len(counted), promoters, passives, detractors)


def top_tags(answers: Iterable[Answer], replies: Iterable[Tagged]) -> tuple[tuple[str, int], ...]:
    """The most frequent tags (then by name), with how many answers and replies carry each."""
    found: Counter[str] = Counter()
    for answer in answers:
        found.update(set(answer.tags))
    for tagged in replies:
        found[tagged.tag] += tagged.count
    ranked = sorted(found.items(), key=lambda item: (-item[1], item[0]))
    return tuple(ranked[:TOP_TAGS])


def summarise(
    counts: Iterable[Counted],
    revenue: Iterable[Earned],
    answers: Iterable[Answer],
    reply_tags: Iterable[Tagged],
) -> Figures:
    """The figures of everything given."""
    totals: Counter[Metric] = Counter()
    for counted in counts:
        totals[counted.metric] += counted.count
    money: dict[str, Decimal] = {}
    for earned in revenue:
        money[earned.currency] = money.get(earned.currency, Decimal(0)) + earned.amount
    answers = list(answers)
    return Figures(
        counts=dict(totals),
        revenue=dict(sorted(money.items())),
        csat=csat(answers),
        nps=nps(answers),
        top_tags=top_tags(answers, reply_tags),
    )


def _grouped(
    stored: Stored,
    key: Callable[[str, date], K],
) -> dict[K, Figures]:
    counts: defaultdict[K, list[Counted]] = defaultdict(list)
    revenue: defaultdict[K, list[Earned]] = defaultdict(list)
    answers: defaultdict[K, list[Answer]] = defaultdict(list)
    tags: defaultdict[K, list[Tagged]] = defaultdict(list)
    for c in stored.counts:
        counts[key(c.campaign_id, c.day)].append(c)
    for e in stored.revenue:
        revenue[key(e.campaign_id, e.day)].append(e)
    for a in stored.answers:
        answers[key(a.campaign_id or UNATTRIBUTED, a.day)].append(a)
    for t in stored.reply_tags:
        tags[key(t.campaign_id, t.day)].append(t)
    keys = {*counts, *revenue, *answers, *tags}
    return {k: summarise(counts[k], revenue[k], answers[k], tags[k]) for k in keys}


def total(stored: Stored) -> Figures:
    return summarise(stored.counts, stored.revenue, stored.answers, stored.reply_tags)


def by_campaign(stored: Stored) -> list[tuple[str, Figures]]:
    """Each campaign with anything on the period, by id (`unattributed` last)."""
    grouped = _grouped(stored, lambda campaign, _day: campaign)
    return sorted(grouped.items(), key=lambda item: (item[0] == UNATTRIBUTED, item[0]))


def series(stored: Stored, period: Period) -> list[tuple[date, date, Figures]]:
    """Every bucket of the period (empty ones too), in order."""
    grouped = _grouped(stored, lambda _campaign, day: period.bucket_start(day))
    return [(start, end, grouped.get(start, Figures())) for start, end in period.buckets()]
