"""What reports keep: counts per shop, campaign, UTC day and metric, revenue per currency, the
survey answers that count, and the tags of replies.

Every fact is kept under its key (shop, metric, subject) once; a count or a revenue moves only
when the fact's key is new, with it (one transaction in PostgreSQL), so a replay adds nothing.
An answer replaces the one held for its invitation only when it is later (time, then event id):
read in any order, the latest stays. A port with two adapters that pass one contract suite
(tests/support/report_store_contract.py): in memory (unit tests) and PostgreSQL (the service).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Protocol

from services.feedback.reports.facts import UNATTRIBUTED, Answer, Fact, Metric, ReplyTags

MessageKey = tuple[str, str]
"""(shop id, message id)."""


@dataclass(frozen=True, slots=True)
class Counted:
    campaign_id: str
    day: date
    metric: Metric
    count: int


@dataclass(frozen=True, slots=True)
class Earned:
    campaign_id: str
    day: date
    currency: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Tagged:
    """How many replies of one campaign and day carry `tag`."""

    campaign_id: str
    day: date
    tag: str
    count: int


@dataclass(frozen=True)
class Stored:
    """What a shop's report over some days is made of (`ReportStore.read`)."""

    counts: list[Counted] = field(default_factory=list)
    revenue: list[Earned] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    """The answer that counts of each invitation answered on those days."""
    reply_tags: list[Tagged] = field(default_factory=list)


@dataclass(frozen=True)
class Batch:
    """What some records state, their campaigns found (`campaign_id` set, or unattributed)."""

    facts: Sequence[Fact] = ()
    answers: Sequence[Answer] = ()
    replies: Sequence[ReplyTags] = ()


def campaign_of(item: Fact | Answer | ReplyTags) -> str:
    return item.campaign_id or UNATTRIBUTED


def latest_answers(answers: Sequence[Answer]) -> list[Answer]:
    """One answer per (shop, invitation): the latest by time, then by event id."""
    latest: dict[tuple[str, str], Answer] = {}
    for answer in answers:
        key = (answer.shop_id, answer.invitation)
        held = latest.get(key)
        if held is None or (answer.at, answer.event_id) > (held.at, held.event_id):
            latest[key] = answer
    return list(latest.values())


class ReportStore(Protocol):
    async def record(self, batch: Batch) -> None:
        """Keep what is new: facts whose key is new (counted, revenue added), answers later
        than the one held for their invitation, replies' tags not held yet."""
        ...

    async def campaigns(self, messages: Collection[MessageKey]) -> dict[MessageKey, str]:
        """The campaign of each message whose `sent` fact is held (the others left out)."""
        ...

    async def read(
        self, shop_id: str, first: date, last: date, campaign_id: str | None = None
    ) -> Stored:
        """The shop's counts, revenue, answers and reply tags on the days from `first` to
        `last` (both included), of one campaign or (None) of all."""
        ...


class MemoryReportStore:
    """The store in memory: for unit tests and for the app built without a database."""

    def __init__(self) -> None:
        self._facts: dict[tuple[str, Metric, str], Fact] = {}
        self._counts: Counter[tuple[str, str, date, Metric]] = Counter()
        self._revenue: dict[tuple[str, str, date, str], Decimal] = {}
        self._answers: dict[tuple[str, str], Answer] = {}
        self._replies: dict[tuple[str, str], ReplyTags] = {}

    async def record(self, batch: Batch) -> None:
        for fact in batch.facts:
            key = (fact.shop_id, fact.metric, fact.subject)
            if key in self._facts:
                continue
            self._facts[key] = fact
            campaign = campaign_of(fact)
            self._counts[fact.shop_id, campaign, fact.day, fact.metric] += 1
            if fact.revenue is not None:
                money = (fact.shop_id, campaign, fact.day, fact.revenue.currency)
                self._revenue[money] = self._revenue.get(money, Decimal(0)) + fact.revenue.amount
        for answer in latest_answers(batch.answers):
            answer = replace(answer, campaign_id=campaign_of(answer))
            held = self._answers.get((answer.shop_id, answer.invitation))
            if held is None or (answer.at, answer.event_id) > (held.at, held.event_id):
                self._answers[answer.shop_id, answer.invitation] = answer
        for reply in batch.replies:
            kept = replace(reply, campaign_id=campaign_of(reply))
            self._replies.setdefault((reply.shop_id, reply.event_id), kept)

    async def campaigns(self, messages: Collection[MessageKey]) -> dict[MessageKey, str]:
        found = {}
        for shop_id, message_id in messages:
            fact = self._facts.get((shop_id, Metric.SENT, message_id))
            if fact is not None:
                found[shop_id, message_id] = campaign_of(fact)
        return found

    async def read(
        self, shop_id: str, first: date, last: date, campaign_id: str | None = None
    ) -> Stored:
        def wanted(shop: str, campaign: str, day: date) -> bool:
            return (
                shop == shop_id
                and first <= day <= last
                and (campaign_id is None or campaign == campaign_id)
            )

        counts = [
            Counted(campaign, day, metric, count)
            for (shop, campaign, day, metric), count in self._counts.items()
            if wanted(shop, campaign, day)
        ]
        revenue = [
            Earned(campaign, day, currency, amount)
            for (shop, campaign, day, currency), amount in self._revenue.items()
            if wanted(shop, campaign, day)
        ]
        answers = [
            answer
            for answer in self._answers.values()
            if wanted(answer.shop_id, campaign_of(answer), answer.day)
        ]
        tags: Counter[tuple[str, date, str]] = Counter()
        for reply in self._replies.values():
            if wanted(reply.shop_id, campaign_of(reply), reply.day):
                for tag in set(reply.tags):
                    tags[campaign_of(reply), reply.day, tag] += 1
        reply_tags = [Tagged(c, d, t, n) for (c, d, t), n in tags.items()]
        return Stored(counts, revenue, answers, reply_tags)
