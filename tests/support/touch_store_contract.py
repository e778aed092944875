"""The touch store's behaviour, written once: the in-memory adapter runs it in the unit tests,
PostgreSQL's in the integration tests (one-line factories, as the directory's)."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from services.feedback.attribution.decide import Credit, conversion_event
from services.feedback.attribution.store import TouchLimits, TouchStore
from services.feedback.attribution.touches import MessageInfo, Order, Touch
from shared.events.conversions import AttributionModel, ConversionAttributedEvent, TouchKind
from shared.events.shop import Channel
from shared.events.types import Money

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
LIMITS = TouchLimits(keep=timedelta(days=7), per_customer=50)


def unique(prefix: str) -> str:
    """Ids unique per test: the PostgreSQL adapter shares its tables between tests."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def info(message_id: str, *, transactional: bool = False) -> MessageInfo:
    return MessageInfo(message_id, Channel.EMAIL, "abandoned_cart", "t-1", transactional)


def delivery(shop: str, customer: str, at: datetime, message_id: str | None = None) -> Touch:
    """An email's delivery: it says what the message was."""
    message_id = message_id or unique("m")
    return Touch(
        shop,
        customer,
        unique("e"),
        message_id,
        TouchKind.DELIVERY,
        at,
        Channel.EMAIL,
        info(message_id),
    )


def click(
    shop: str, customer: str, at: datetime, message_id: str, channel: Channel | None = Channel.EMAIL
) -> Touch:
    """A click: it names the message only."""
    return Touch(shop, customer, unique("e"), message_id, TouchKind.CLICK, at, channel)


def converted(
    shop: str, order_id: str, *, customer: str = "c1", message_id: str = "m-1"
) -> ConversionAttributedEvent:
    order = Order(
        shop,
        customer,
        order_id,
        "#1001",
        T0,
        Money(amount=Decimal("33.95"), currency="EUR"),
        unique("e"),
    )
    touch = click(shop, customer, T0 - timedelta(hours=2), message_id)
    credit = Credit(touch, info(message_id), timedelta(days=5), AttributionModel.LAST_TOUCH)
    return conversion_event(order, credit)


class TouchStoreContract(ABC):
    @abstractmethod
    def store(self, limits: TouchLimits = LIMITS) -> TouchStore:
        """A fresh adapter (tables may hold other tests' rows: ids here are unique)."""

    async def test_nothing_is_held_for_the_unknown(self) -> None:
        store = self.store()
        assert await store.touches({(unique("shop"), "c1")}, T0 - timedelta(days=1)) == []
        assert await store.conversions({(unique("shop"), "o1")}) == {}

    async def test_touches_read_back_oldest_first_for_the_customers_asked(self) -> None:
        store = self.store()
        shop, other_shop = unique("shop"), unique("shop")
        sent = delivery(shop, "c1", T0)
        clicked = click(shop, "c1", T0 + timedelta(hours=1), sent.message_id, channel=None)
        others = [
            delivery(shop, "c2", T0),
            delivery(other_shop, "c1", T0),  # the same customer id in another shop
        ]
        await store.record([clicked, sent, *others])
        assert await store.touches({(shop, "c1")}, T0 - timedelta(days=1)) == [sent, clicked]
        assert await store.touches({(shop, "c1"), (shop, "c2")}, T0) == [
            *sorted([sent, others[0]], key=lambda t: t.touch_id),
            clicked,
        ]

    async def test_since_is_inclusive(self) -> None:
        store = self.store()
        shop = unique("shop")
        before, at = delivery(shop, "c1", T0 - timedelta(microseconds=1)), delivery(shop, "c1", T0)
        await store.record([before, at])
        assert await store.touches({(shop, "c1")}, T0) == [at]

    async def test_a_touch_recorded_again_changes_nothing(self) -> None:
        store = self.store()
        shop = unique("shop")
        first = delivery(shop, "c1", T0)
        again = Touch(
            shop, "c1", first.touch_id, first.message_id, TouchKind.DELIVERY,
            T0 + timedelta(hours=1), Channel.EMAIL, first.message,
        )  # fmt: skip
        await store.record([first])
        await store.record([again])
        assert await store.touches({(shop, "c1")}, T0 - timedelta(days=1)) == [first]

    async def test_each_customer_keeps_only_its_newest_touches(self) -> None:
        store = self.store(TouchLimits(keep=timedelta(days=7), per_customer=3))
        shop = unique("shop")
        touches = [delivery(shop, "c1", T0 + timedelta(minutes=n)) for n in range(5)]
        neighbour = delivery(shop, "c2", T0)
        await store.record([*touches[:2], neighbour])
        await store.record(touches[2:])
        assert await store.touches({(shop, "c1")}, T0 - timedelta(days=1)) == touches[2:]
        assert await store.touches({(shop, "c2")}, T0 - timedelta(days=1)) == [neighbour]

    async def test_touches_older_than_the_newest_by_more_than_keep_are_pruned(self) -> None:
        store = self.store(TouchLimits(keep=timedelta(days=7), per_customer=50))
        shop = unique("shop")
        newest = delivery(shop, "c1", T0)
        just_kept = delivery(shop, "c1", T0 - timedelta(days=7))
        just_gone = delivery(shop, "c1", T0 - timedelta(days=7, microseconds=1))
        await store.record([just_gone, just_kept])
        await store.record([newest])
        since = T0 - timedelta(days=30)
        assert await store.touches({(shop, "c1")}, since) == [just_kept, newest]

    async def test_prune_forgets_touches_before_the_cutoff(self) -> None:
        store = self.store()
        shop = unique("shop")
        cutoff = datetime(2001, 1, 1, tzinfo=UTC)  # older than any other test's touches
        gone = [
            delivery(shop, "c1", cutoff - timedelta(days=1)),
            delivery(shop, "c2", cutoff - timedelta(microseconds=1)),
        ]
        kept = delivery(shop, "c3", cutoff)
        await store.record([*gone, kept])
        assert await store.prune(cutoff) >= 2
        since = cutoff - timedelta(days=30)
        assert await store.touches({(shop, "c1"), (shop, "c2"), (shop, "c3")}, since) == [kept]

    async def test_an_orders_first_conversion_stays_and_is_published_once_marked(self) -> None:
        store = self.store()
        shop = unique("shop")
        first = converted(shop, "o-1", message_id="m-first")
        later = converted(shop, "o-1", message_id="m-later")
        other_shop = converted(unique("shop"), "o-1")
        await store.add([first, other_shop])
        await store.add([later])
        held = await store.conversions({(shop, "o-1"), (shop, "o-2")})
        assert list(held) == [(shop, "o-1")]
        assert held[shop, "o-1"].event == first
        assert held[shop, "o-1"].published is False
        await store.mark_published([(shop, "o-1")])
        held = await store.conversions({(shop, "o-1"), (other_shop.shopid, "o-1")})
        assert held[shop, "o-1"].published is True
        assert held[other_shop.shopid, "o-1"].published is False
        assert held[other_shop.shopid, "o-1"].event == other_shop

    async def test_a_conversion_reads_back_exactly(self) -> None:
        store = self.store()
        event = converted(unique("shop"), "o-1")
        await store.add([event])
        [held] = (await store.conversions({(event.shopid, "o-1")})).values()
        assert held.event == event
        assert held.event.data.revenue.amount == Decimal("33.95")
        assert held.event.data.window == timedelta(days=5)
