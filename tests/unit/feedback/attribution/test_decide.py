"""Which message earns an order: windows at their edges, last touch, ties, and what never
earns anything (transactional messages, unknown ones, other customers' and shops' touches)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.feedback.attribution.decide import Credit, NoCredit, conversion_event, decide
from services.feedback.attribution.policy import AttributionPolicy
from services.feedback.attribution.touches import MessageInfo, Order, Touch
from shared.events.conversions import AttributionModel, TouchKind, conversion_event_id
from shared.events.shop import Channel
from shared.events.types import Money

ORDERED_AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
US = timedelta(microseconds=1)
ORDER = Order(
    "acme", "c1", "o-1", "#1001", ORDERED_AT, Money(amount=Decimal("33.95"), currency="EUR"), "e-o"
)
POLICY = AttributionPolicy()
MESSAGES = {
    "m-a": MessageInfo("m-a", Channel.EMAIL, "cross_sell", "t-a", transactional=False),
    "m-b": MessageInfo("m-b", Channel.SMS, "win_back", "t-b", transactional=False),
    "m-receipt": MessageInfo("m-receipt", Channel.EMAIL, "order_confirmation", "t-r", True),
}


def touch(
    kind: TouchKind,
    before: timedelta,
    message_id: str = "m-a",
    *,
    shop: str = "acme",
    customer: str = "c1",
) -> Touch:
    """A touch `before` the order (negative: after it)."""
    at = ORDERED_AT - before
    return Touch(shop, customer, f"e-{kind}-{at}", message_id, kind, at, Channel.EMAIL)


def credited(*touches: Touch, policy: AttributionPolicy = POLICY) -> Credit:
    decision = decide(ORDER, touches, MESSAGES, policy)
    assert isinstance(decision, Credit), decision
    return decision


@pytest.mark.parametrize(
    ("kind", "window"),
    [
        (TouchKind.CLICK, timedelta(days=5)),
        (TouchKind.OPEN, timedelta(days=1)),
        (TouchKind.DELIVERY, timedelta(days=1)),
    ],
)
def test_a_window_includes_its_end_and_nothing_after(kind: TouchKind, window: timedelta) -> None:
    assert credited(touch(kind, window)).window == window
    assert decide(ORDER, [touch(kind, window + US)], MESSAGES, POLICY) is NoCredit.NO_TOUCH


def test_a_touch_counts_only_strictly_before_the_order() -> None:
    assert credited(touch(TouchKind.CLICK, US)).touch.at == ORDERED_AT - US
    at_the_order = touch(TouchKind.CLICK, timedelta(0))
    assert decide(ORDER, [at_the_order], MESSAGES, POLICY) is NoCredit.NO_TOUCH


def test_touches_after_the_order_never_earn_it() -> None:
    after = [touch(TouchKind.DELIVERY, -US), touch(TouchKind.CLICK, -timedelta(minutes=5))]
    assert decide(ORDER, after, MESSAGES, POLICY) is NoCredit.NO_TOUCH
    earlier = touch(TouchKind.OPEN, timedelta(hours=3), "m-b")
    assert credited(earlier, *after).message.message_id == "m-b"


def test_an_order_before_any_touch_is_credited_to_nothing() -> None:
    assert decide(ORDER, [], MESSAGES, POLICY) is NoCredit.NO_TOUCH


def test_a_click_beats_an_open_and_a_delivery_at_the_same_time() -> None:
    same_time = timedelta(hours=2)
    credit = credited(
        touch(TouchKind.DELIVERY, same_time, "m-b"),
        touch(TouchKind.CLICK, same_time, "m-a"),
        touch(TouchKind.OPEN, same_time, "m-b"),
    )
    assert (credit.touch.kind, credit.message.message_id) == (TouchKind.CLICK, "m-a")
    credit = credited(
        touch(TouchKind.DELIVERY, same_time, "m-a"), touch(TouchKind.OPEN, same_time, "m-b")
    )
    assert (credit.touch.kind, credit.message.message_id) == (TouchKind.OPEN, "m-b")


def test_the_last_touch_wins_whatever_its_kind() -> None:
    credit = credited(
        touch(TouchKind.CLICK, timedelta(days=2), "m-a"),
        touch(TouchKind.DELIVERY, timedelta(hours=1), "m-b"),
    )
    assert (credit.touch.kind, credit.message.message_id) == (TouchKind.DELIVERY, "m-b")
    assert credit.window == timedelta(days=1)
    assert credit.model is AttributionModel.LAST_TOUCH


def test_a_later_touch_outside_its_own_window_does_not_hide_an_earlier_one_inside() -> None:
    credit = credited(
        touch(TouchKind.CLICK, timedelta(days=4), "m-a"),
        touch(TouchKind.OPEN, timedelta(days=2), "m-b"),  # an open's window is 1 day
    )
    assert (credit.touch.kind, credit.message.message_id) == (TouchKind.CLICK, "m-a")


def test_transactional_messages_earn_nothing() -> None:
    receipt = touch(TouchKind.CLICK, timedelta(hours=1), "m-receipt")
    assert decide(ORDER, [receipt], MESSAGES, POLICY) is NoCredit.TRANSACTIONAL_ONLY
    marketing = touch(TouchKind.DELIVERY, timedelta(hours=20), "m-a")
    assert credited(receipt, marketing).message.message_id == "m-a"


def test_a_message_of_unknown_kind_earns_nothing() -> None:
    unknown = touch(TouchKind.CLICK, timedelta(hours=1), "m-unknown")
    assert decide(ORDER, [unknown], MESSAGES, POLICY) is NoCredit.TRANSACTIONAL_ONLY


def test_other_customers_and_other_shops_touches_never_earn_an_order() -> None:
    others = [
        touch(TouchKind.CLICK, timedelta(hours=1), shop="other-shop"),
        touch(TouchKind.CLICK, timedelta(hours=1), customer="c2"),
    ]
    assert decide(ORDER, others, MESSAGES, POLICY) is NoCredit.NO_TOUCH


def test_a_shops_own_windows_apply_and_a_kind_without_one_earns_nothing() -> None:
    policy = AttributionPolicy(windows={TouchKind.CLICK: timedelta(hours=2)})
    assert credited(touch(TouchKind.CLICK, timedelta(hours=2)), policy=policy).window == (
        timedelta(hours=2)
    )
    too_old = touch(TouchKind.CLICK, timedelta(hours=2) + US)
    delivered = touch(TouchKind.DELIVERY, timedelta(minutes=1))
    assert decide(ORDER, [too_old, delivered], MESSAGES, policy) is NoCredit.NO_TOUCH


def test_the_conversion_names_the_order_its_revenue_and_the_message() -> None:
    credit = credited(touch(TouchKind.CLICK, timedelta(hours=3), "m-b"))
    event = conversion_event(ORDER, credit)
    assert event.id == conversion_event_id("acme", "o-1")
    assert event.id != conversion_event_id("other-shop", "o-1")
    assert (event.key, event.time, event.type) == ("acme:c1", ORDERED_AT, "conversion.attributed")
    data = event.data
    assert (data.order_id, data.order_number, data.order_event_id) == ("o-1", "#1001", "e-o")
    assert data.revenue == Money(amount=Decimal("33.95"), currency="EUR")
    assert data.message.model_dump() == {
        "message_id": "m-b",
        "campaign_id": "win_back",
        "trigger_id": "t-b",
        "channel": Channel.SMS,
    }
    assert (data.touch, data.touched_at) == (TouchKind.CLICK, ORDERED_AT - timedelta(hours=3))
    assert data.window == timedelta(days=5)
    assert conversion_event(ORDER, credit) == event  # decided again, said alike
