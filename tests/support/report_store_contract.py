"""The report store's behaviour, written once: the in-memory adapter runs it in the unit tests,
PostgreSQL's in the integration tests (one-line factories, as the directory's)."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from services.feedback.reports.facts import Answer, Fact, Metric, ReplyTags
from services.feedback.reports.store import Batch, Counted, Earned, ReportStore, Tagged
from shared.events.feedback import SurveyKind
from shared.events.types import Money

DAY = date(2026, 11, 23)
NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def unique(prefix: str) -> str:
    """Ids unique per test: the PostgreSQL adapter shares its tables between tests."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def fact(
    shop: str,
    metric: Metric,
    subject: str,
    *,
    campaign: str = "cart",
    day: date = DAY,
    revenue: Money | None = None,
) -> Fact:
    return Fact(shop, metric, subject, day, campaign, subject, revenue)


def answer(
    shop: str,
    invitation: str,
    score: int,
    at: datetime = NOON,
    *,
    survey: SurveyKind = SurveyKind.NPS,
    event_id: str | None = None,
    tags: tuple[str, ...] = (),
    campaign: str = "review_request",
) -> Answer:
    return Answer(
        shop, invitation, survey, score, at, event_id or unique("e"), tags, campaign, invitation
    )


def counts(found: list[Counted]) -> dict[tuple[str, date, Metric], int]:
    return {(c.campaign_id, c.day, c.metric): c.count for c in found}


class ReportStoreContract(ABC):
    @abstractmethod
    def store(self) -> ReportStore: ...

    async def test_a_fact_is_counted_once_however_often_it_is_recorded(self) -> None:
        store, shop = self.store(), unique("shop")
        opened = fact(shop, Metric.OPENED, "m-1")
        await store.record(Batch(facts=[opened, opened]))
        await store.record(Batch(facts=[opened]))
        await store.record(Batch(facts=[fact(shop, Metric.OPENED, "m-2")]))
        stored = await store.read(shop, DAY, DAY)
        assert counts(stored.counts) == {("cart", DAY, Metric.OPENED): 2}

    async def test_a_repeated_subject_keeps_the_day_and_campaign_it_was_first_counted_on(
        self,
    ) -> None:
        store, shop = self.store(), unique("shop")
        await store.record(Batch(facts=[fact(shop, Metric.OPENED, "m-1")]))
        later = fact(shop, Metric.OPENED, "m-1", day=DAY + timedelta(days=1), campaign="other")
        await store.record(Batch(facts=[later]))
        stored = await store.read(shop, DAY, DAY + timedelta(days=1))
        assert counts(stored.counts) == {("cart", DAY, Metric.OPENED): 1}

    async def test_metrics_campaigns_and_days_are_counted_apart(self) -> None:
        store, shop = self.store(), unique("shop")
        tomorrow = DAY + timedelta(days=1)
        await store.record(
            Batch(
                facts=[
                    fact(shop, Metric.SENT, "m-1"),
                    fact(shop, Metric.SENT, "m-2"),
                    fact(shop, Metric.DELIVERED, "m-1"),
                    fact(shop, Metric.SENT, "m-3", campaign="welcome"),
                    fact(shop, Metric.SENT, "m-4", day=tomorrow),
                ]
            )
        )
        stored = await store.read(shop, DAY, tomorrow)
        assert counts(stored.counts) == {
            ("cart", DAY, Metric.SENT): 2,
            ("cart", DAY, Metric.DELIVERED): 1,
            ("welcome", DAY, Metric.SENT): 1,
            ("cart", tomorrow, Metric.SENT): 1,
        }

    async def test_reads_keep_to_the_days_asked_both_included(self) -> None:
        store, shop = self.store(), unique("shop")
        days = [DAY + timedelta(days=i) for i in range(-1, 3)]
        await store.record(
            Batch(facts=[fact(shop, Metric.SENT, f"m-{i}", day=d) for i, d in enumerate(days)])
        )
        stored = await store.read(shop, days[1], days[2])
        assert sorted(c.day for c in stored.counts) == [days[1], days[2]]

    async def test_a_read_of_one_campaign_holds_nothing_of_another(self) -> None:
        store, shop = self.store(), unique("shop")
        await store.record(
            Batch(
                facts=[
                    fact(shop, Metric.SENT, "m-1"),
                    fact(shop, Metric.SENT, "m-2", campaign="welcome"),
                ],
                answers=[answer(shop, "m-3", 9, campaign="welcome")],
            )
        )
        stored = await store.read(shop, DAY, DAY, "cart")
        assert counts(stored.counts) == {("cart", DAY, Metric.SENT): 1}
        assert stored.answers == []

    async def test_one_shop_never_reads_another_shops_figures(self) -> None:
        store, mine, theirs = self.store(), unique("shop"), unique("shop")
        await store.record(
            Batch(
                facts=[fact(theirs, Metric.SENT, "m-1")],
                answers=[answer(theirs, "m-1", 10)],
                replies=[ReplyTags(theirs, unique("e"), DAY, ("price",), "cart")],
            )
        )
        stored = await store.read(mine, DAY, DAY)
        assert (stored.counts, stored.revenue, stored.answers, stored.reply_tags) == (
            [],
            [],
            [],
            [],
        )

    async def test_revenue_adds_up_per_currency_and_only_for_new_orders(self) -> None:
        store, shop = self.store(), unique("shop")
        eur = Money(amount=Decimal("33.95"), currency="EUR")
        usd = Money(amount=Decimal("10"), currency="USD")
        o1 = fact(shop, Metric.CONVERTED, "o-1", revenue=eur)
        o2 = fact(shop, Metric.CONVERTED, "o-2", revenue=eur)
        o3 = fact(shop, Metric.CONVERTED, "o-3", revenue=usd)
        await store.record(Batch(facts=[o1, o2, o3]))
        await store.record(Batch(facts=[o1, o3]))  # a replay adds nothing
        stored = await store.read(shop, DAY, DAY)
        assert sorted((e.currency, e.amount) for e in stored.revenue) == [
            ("EUR", Decimal("67.90")),
            ("USD", Decimal("10")),
        ]
        assert all(isinstance(e, Earned) and e.campaign_id == "cart" for e in stored.revenue)
        assert counts(stored.counts) == {("cart", DAY, Metric.CONVERTED): 3}

    async def test_the_latest_answer_of_an_invitation_is_the_one_kept_in_any_order(
        self,
    ) -> None:
        store, shop = self.store(), unique("shop")
        first = answer(shop, "m-1", 3, NOON, tags=("shipping",))
        second = answer(shop, "m-1", 9, NOON + timedelta(hours=1), tags=("quality",))
        await store.record(Batch(answers=[second]))
        await store.record(Batch(answers=[first]))  # older, read later: changes nothing
        stored = await store.read(shop, DAY, DAY)
        assert [(a.invitation, a.score, a.tags) for a in stored.answers] == [
            ("m-1", 9, ("quality",))
        ]

    async def test_answers_at_one_time_are_settled_by_the_greater_event_id(self) -> None:
        store, shop = self.store(), unique("shop")
        low = answer(shop, "m-1", 2, event_id="a-event")
        high = answer(shop, "m-1", 7, event_id="b-event")
        await store.record(Batch(answers=[high, low]))
        await store.record(Batch(answers=[low]))
        assert [a.score for a in (await store.read(shop, DAY, DAY)).answers] == [7]

    async def test_a_changed_answer_moves_to_the_day_of_the_change(self) -> None:
        store, shop = self.store(), unique("shop")
        tomorrow = NOON + timedelta(days=1)
        await store.record(Batch(answers=[answer(shop, "m-1", 3)]))
        await store.record(Batch(answers=[answer(shop, "m-1", 10, tomorrow)]))
        assert (await store.read(shop, DAY, DAY)).answers == []
        moved = (await store.read(shop, tomorrow.date(), tomorrow.date())).answers
        assert [(a.score, a.at) for a in moved] == [(10, tomorrow)]

    async def test_stored_answers_read_back_as_they_were_recorded(self) -> None:
        store, shop = self.store(), unique("shop")
        given = answer(shop, "m-1", 4, survey=SurveyKind.CSAT, tags=("price", "shipping"))
        await store.record(Batch(answers=[given]))
        assert (await store.read(shop, DAY, DAY)).answers == [given]

    async def test_reply_tags_count_each_reply_once(self) -> None:
        store, shop = self.store(), unique("shop")
        first = ReplyTags(shop, unique("e"), DAY, ("price", "shipping"), "cart", "m-1")
        second = ReplyTags(shop, unique("e"), DAY, ("price",), "cart", "m-2")
        await store.record(Batch(replies=[first, second]))
        await store.record(Batch(replies=[first]))
        stored = await store.read(shop, DAY, DAY)
        assert sorted(stored.reply_tags, key=lambda t: t.tag) == [
            Tagged("cart", DAY, "price", 2),
            Tagged("cart", DAY, "shipping", 1),
        ]

    async def test_a_message_campaign_is_known_from_its_sent_fact_in_its_own_shop(self) -> None:
        store, shop, other = self.store(), unique("shop"), unique("shop")
        await store.record(
            Batch(
                facts=[
                    fact(shop, Metric.SENT, "m-1", campaign="welcome"),
                    fact(shop, Metric.OPENED, "m-2", campaign="cart"),
                ]
            )
        )
        found = await store.campaigns({(shop, "m-1"), (shop, "m-2"), (other, "m-1")})
        assert found == {(shop, "m-1"): "welcome"}
        assert await store.campaigns(set()) == {}
