"""Profile arithmetic: each input event into the profile, in any order, once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.segmenter.profiles.apply import CUSTOMER_FACING, HANDLERS, applies, apply
from services.segmenter.profiles.facts import DAY_S
from services.segmenter.profiles.model import (
    MAX_ACTIVITY_DAYS,
    MAX_PENDING,
    MAX_SEEN_IDS,
    MAX_TALLIES,
    Answer,
    Engagement,
    Profile,
    encode,
)
from tests.support import segmenter_events as ev
from tests.support.segmenter_events import T0, at, seconds
from tests.unit.segmenter.profiles.builders import NOW, day, facts, run

# Idempotency and purity


def test_a_duplicate_event_returns_the_very_same_profile() -> None:
    order = ev.order_placed(at=at(1))
    profile = run(ev.customer_created(), order)
    assert apply(profile, order, NOW) is profile
    assert facts(profile).orders == 1


def test_an_event_seen_before_others_is_still_a_duplicate() -> None:
    order = ev.order_placed(at=at(1))
    profile = run(order, *(ev.product_viewed(at=at(2)) for _ in range(10)))
    assert apply(profile, order, NOW) is profile


def test_the_profile_passed_in_is_never_changed() -> None:
    events = [
        ev.customer_created(email_consent=True),
        ev.product_viewed(brand="acme"),
        ev.order_placed(at=at(1), items=[ev.line(brand="acme")]),
        ev.order_refunded(at=at(2)),
        ev.order_cancelled(order_id="o9", at=at(2)),
        ev.message_sent(at=at(3)),
        ev.message_opened(at=at(3)),
        ev.survey_answered(at=at(4)),
        ev.consent_withdrawn(at=at(5)),
        ev.order_placed(order_id="o9", at=at(6)),
    ]
    profile: Profile | None = None
    for event in events:
        before = encode(profile) if profile is not None else None
        updated = apply(profile, event, NOW)
        if profile is not None:
            assert encode(profile) == before, event.type
        assert updated is not profile
        profile = updated


@pytest.mark.parametrize(
    "event",
    [
        ev.conversion_attributed(),
        ev.message_queued(),
        ev.email_bounced(),
        ev.message_opened(machine=True),
        ev.message_clicked(machine=True),
    ],
    ids=lambda e: f"{e.type}{'-machine' if getattr(e.data, 'machine', False) else ''}",
)
def test_an_event_the_profile_does_not_take_changes_nothing(event: object) -> None:
    profile = run(ev.order_placed())
    assert not applies(event)  # type: ignore[arg-type]
    assert apply(profile, event, NOW) is profile  # type: ignore[arg-type]


def test_an_ignored_event_for_an_unknown_customer_gives_an_empty_profile() -> None:
    profile = apply(None, ev.email_bounced(), NOW)
    assert profile == Profile(shop_id="s1", customer_id="c1")


def test_the_newest_event_ids_are_kept_within_the_bound() -> None:
    views = [ev.product_viewed(at=at(0, minutes=i)) for i in range(MAX_SEEN_IDS + 5)]
    profile = run(*views)
    assert len(profile.seen_ids) == MAX_SEEN_IDS
    assert profile.seen_ids[-1] == views[-1].id
    assert views[0].id not in profile.seen_ids


def test_a_new_profile_is_keyed_like_the_event() -> None:
    visitor = run(ev.product_viewed(customer=None, anonymous="v1", shop="s2"))
    assert (visitor.shop_id, visitor.customer_id, visitor.anonymous_id) == ("s2", None, "v1")


def test_every_handled_type_is_documented_and_customer_facing_types_are_handled() -> None:
    assert set(CUSTOMER_FACING) <= set(HANDLERS)
    assert not {"message.sent", "message.delivered", "email.bounced"} & CUSTOMER_FACING


# Orders, refunds, cancellations


def test_an_order_counts_and_tallies_what_was_bought() -> None:
    items = [
        ev.line("p1", category="coffee", brand="acme"),
        ev.line("p2", category="coffee", brand="bolt"),
        ev.line("p3", category="tea", brand=None),
    ]
    profile = run(ev.order_placed(total="30.00", items=items, at=at(1)))
    found = facts(profile)
    assert (found.orders, found.revenue, found.aov) == (1, Decimal("30.00"), Decimal("30.00"))
    assert {k: t.count for k, t in profile.categories_bought.items()} == {"coffee": 1, "tea": 1}
    assert {k: t.count for k, t in profile.brands_bought.items()} == {"acme": 1, "bolt": 1}
    assert profile.categories_bought["tea"].last_at == seconds(at(1))


def test_the_same_order_said_twice_counts_once() -> None:
    profile = run(ev.order_placed(at=at(1)), ev.order_placed(at=at(1, minutes=2)))
    assert facts(profile).orders == 1
    assert facts(profile).revenue == Decimal("20.00")
    assert profile.categories_bought["coffee"].count == 1
    assert profile.activity["order.placed"] == {day(seconds(at(1))): 1}


def test_a_partial_refund_lowers_revenue_but_not_the_order_count() -> None:
    profile = run(ev.order_placed(total="20.00"), ev.order_refunded(amount="5.00", at=at(1)))
    found = facts(profile)
    assert (found.orders, found.revenue, found.aov) == (1, Decimal("15.00"), Decimal("15.00"))


def test_a_full_refund_leaves_no_revenue_and_still_one_order() -> None:
    profile = run(ev.order_placed(total="20.00"), ev.order_refunded(amount="20.00", at=at(1)))
    assert (facts(profile).orders, facts(profile).revenue) == (1, Decimal(0))


def test_the_same_refund_said_twice_counts_once() -> None:
    first = ev.order_refunded(refund_id="r1", amount="5.00", at=at(1))
    again = ev.order_refunded(refund_id="r1", amount="5.00", at=at(1, hours=1))  # new event id
    profile = run(ev.order_placed(), first, again)
    assert facts(profile).revenue == Decimal("15.00")
    assert profile.orders[0].refund_ids == ("r1",)


def test_refunds_never_take_an_order_below_zero() -> None:
    profile = run(
        ev.order_placed(total="20.00"),
        ev.order_refunded(refund_id="r1", amount="15.00", at=at(1)),
        ev.order_refunded(refund_id="r2", amount="15.00", at=at(2)),
    )
    assert facts(profile).revenue == Decimal(0)
    assert profile.orders[0].refunded == Decimal("20.00")


def test_a_refund_that_arrives_before_its_order_applies_when_the_order_comes() -> None:
    refund = ev.order_refunded(amount="5.00", at=at(2))
    early = run(refund)
    assert facts(early).orders == 0 and facts(early).revenue == Decimal(0)
    profile = run(ev.order_placed(total="20.00", at=at(1)), start=early)
    assert facts(profile).revenue == Decimal("15.00")
    assert profile.pending == []
    assert apply(profile, refund, NOW) is profile  # and it never counts again


def test_a_refund_in_another_currency_than_the_order_adds_nothing() -> None:
    profile = run(ev.order_placed(total="20.00"), ev.order_refunded(currency="USD", at=at(1)))
    assert facts(profile).revenue == Decimal("20.00")
    assert facts(profile).other_revenue == {}


def test_a_cancelled_order_counts_nowhere() -> None:
    profile = run(
        ev.order_placed(order_id="o1", total="20.00", at=at(1)),
        ev.order_placed(order_id="o2", total="50.00", at=at(5)),
        ev.order_cancelled(order_id="o2", at=at(6)),
    )
    found = facts(profile)
    assert (found.orders, found.revenue, found.aov) == (1, Decimal("20.00"), Decimal("20.00"))
    assert found.last_order_at == seconds(at(1))


def test_a_cancellation_that_arrives_before_its_order_cancels_it_when_it_comes() -> None:
    early = run(ev.order_cancelled(order_id="o1", at=at(2)))
    assert [note.order_id for note in early.pending] == ["o1"]
    profile = run(ev.order_placed(order_id="o1", at=at(1)), start=early)
    assert facts(profile).orders == 0
    assert profile.orders[0].cancelled
    assert profile.pending == []


def test_a_cancellation_and_a_refund_before_the_order_join_in_one_note() -> None:
    early = run(
        ev.order_refunded(order_id="o1", refund_id="r1", amount="5.00", at=at(2)),
        ev.order_refunded(order_id="o1", refund_id="r2", amount="2.00", at=at(3)),
        ev.order_cancelled(order_id="o1", at=at(4)),
    )
    (note,) = early.pending
    assert note.cancelled and [r.refund_id for r in note.refunds] == ["r1", "r2"]
    order = run(ev.order_placed(order_id="o1", at=at(1)), start=early).orders[0]
    assert order.cancelled and order.refunded == Decimal("7.00")


def test_notes_of_orders_that_never_come_are_bounded() -> None:
    cancels = [ev.order_cancelled(order_id=f"x{i}", at=at(i)) for i in range(MAX_PENDING + 3)]
    profile = run(*cancels)
    assert len(profile.pending) == MAX_PENDING
    assert profile.pending[0].order_id == "x3"


def test_two_currencies_are_never_summed() -> None:
    profile = run(
        ev.order_placed(order_id="o1", total="20.00", currency="EUR", at=at(1)),
        ev.order_placed(order_id="o2", total="30.00", currency="USD", at=at(2)),
        ev.order_placed(order_id="o3", total="40.00", currency="EUR", at=at(3)),
    )
    found = facts(profile, "EUR")
    assert (found.currency, found.revenue, found.aov) == ("EUR", Decimal("60.00"), Decimal(30))
    assert found.other_revenue == {"USD": Decimal("30.00")}
    assert found.orders == 3
    usd = facts(profile, "USD")
    assert (usd.revenue, usd.aov, usd.other_revenue) == (
        Decimal("30.00"),
        Decimal("30.00"),
        {"EUR": Decimal("60.00")},
    )


def test_without_a_shop_currency_the_first_order_currency_is_the_revenue() -> None:
    profile = run(
        ev.order_placed(order_id="o2", total="30.00", currency="USD", at=at(2)),
        ev.order_placed(order_id="o1", total="20.00", currency="GBP", at=at(1)),  # late
    )
    found = facts(profile, None)
    assert (found.currency, found.revenue) == ("GBP", Decimal("20.00"))
    assert found.other_revenue == {"USD": Decimal("30.00")}


# Late events


def test_a_late_order_lands_in_its_place() -> None:
    profile = run(
        ev.order_placed(order_id="o2", at=at(10)),
        ev.order_placed(order_id="o3", at=at(40)),
        ev.order_placed(order_id="o1", at=at(0)),  # arrives last, happened first
    )
    found = facts(profile)
    assert [o.order_id for o in profile.orders] == ["o1", "o2", "o3"]
    assert found.first_order_at == seconds(at(0))
    assert found.last_order_at == seconds(at(40))
    assert (found.repeat_interval_days, found.repeat_interval_gaps) == (20.0, 2)


def test_last_activity_is_the_latest_time_whatever_the_arrival() -> None:
    profile = run(ev.product_viewed(at=at(5)), ev.product_viewed(at=at(2)))
    assert profile.last_activity_at == seconds(at(5))
    assert profile.first_seen_at == seconds(at(2))


def test_a_late_view_does_not_move_a_tally_back() -> None:
    profile = run(ev.product_viewed(at=at(5)), ev.product_viewed(at=at(2)))
    assert profile.categories_viewed["coffee"].count == 2
    assert profile.categories_viewed["coffee"].last_at == seconds(at(5))


@settings(max_examples=40, deadline=None)
@given(st.permutations(range(7)))
def test_any_arrival_order_gives_the_same_orders(order: list[int]) -> None:
    events = [
        ev.order_placed(order_id="o1", total="20.00", at=at(0)),
        ev.order_placed(order_id="o2", total="30.00", at=at(12)),
        ev.order_placed(order_id="o3", total="25.00", currency="USD", at=at(20)),
        ev.order_refunded(order_id="o1", refund_id="r1", amount="15.00", at=at(3)),
        ev.order_refunded(order_id="o1", refund_id="r2", amount="15.00", at=at(4)),
        ev.order_cancelled(order_id="o2", at=at(13)),
        ev.order_placed(order_id="o4", total="10.00", at=at(30)),
    ]
    profile = run(*(events[i] for i in order))
    assert profile.pending == []
    found = facts(profile)
    assert (found.orders, found.revenue, found.other_revenue) == (
        3,
        Decimal("10.00"),
        {"USD": Decimal("25.00")},
    )
    assert (found.first_order_at, found.last_order_at) == (seconds(at(0)), seconds(at(30)))
    assert (found.repeat_interval_days, found.repeat_interval_gaps) == (15.0, 2)  # 20 and 10


# Activity


def test_activity_counts_each_type_per_utc_day() -> None:
    profile = run(
        ev.product_viewed(at=at(0)),
        ev.product_viewed(at=at(0, hours=1)),
        ev.product_viewed(at=at(1)),
        ev.cart_updated(at=at(1)),
    )
    today, tomorrow = day(seconds(at(0))), day(seconds(at(1)))
    assert profile.activity == {
        "product.viewed": {today: 2, tomorrow: 1},
        "cart.updated": {tomorrow: 1},
    }


def test_activity_older_than_the_window_of_the_newest_day_is_dropped() -> None:
    profile = run(
        ev.message_sent(at=at(0)),
        ev.product_viewed(at=at(1)),
        ev.product_viewed(at=at(MAX_ACTIVITY_DAYS)),
    )
    newest = day(seconds(at(MAX_ACTIVITY_DAYS)))
    assert "message.sent" not in profile.activity
    assert profile.activity["product.viewed"] == {day(seconds(at(1))): 1, newest: 1}
    later = run(ev.product_viewed(at=at(0)), start=profile)  # too old to count
    assert later.activity == profile.activity
    assert len(later.seen_ids) == len(profile.seen_ids) + 1


@pytest.mark.parametrize(
    "event",
    [
        ev.product_viewed(at=at(3)),
        ev.product_added(at=at(3)),
        ev.cart_updated(at=at(3)),
        ev.checkout_started(at=at(3)),
        ev.order_placed(at=at(3)),
        ev.message_opened(at=at(3)),
        ev.message_clicked(at=at(3)),
        ev.reply_received(at=at(3)),
        ev.survey_answered(at=at(3)),
        ev.customer_identified(under_customer=True, at=at(3)),
    ],
    ids=lambda e: e.type,
)
def test_what_the_customer_does_is_their_last_activity(event: object) -> None:
    profile = run(ev.customer_created(at=at(0)), event)
    assert profile.last_activity_at == seconds(at(3))


@pytest.mark.parametrize(
    "event",
    [
        ev.message_sent(at=at(3)),
        ev.message_delivered(at=at(3)),
        ev.email_bounced(at=at(3)),
        ev.shipment_created(at=at(3)),
        ev.shipment_delivered(at=at(3)),
        ev.order_cancelled(at=at(3)),
        ev.order_refunded(at=at(3)),
        ev.customer_updated(locale="nl", at=at(3)),
        ev.message_opened(machine=True, at=at(3)),
    ],
    ids=lambda e: f"{e.type}{'-machine' if getattr(e.data, 'machine', False) else ''}",
)
def test_what_happens_to_the_customer_is_not_their_activity(event: object) -> None:
    profile = run(ev.product_viewed(at=at(0)), event)
    assert profile.last_activity_at == seconds(at(0))


def test_shipments_count_in_activity_but_bounces_do_not() -> None:
    profile = run(ev.shipment_created(at=at(1)), ev.email_bounced(at=at(1)))
    assert set(profile.activity) == {"shipment.created"}


# Tallies


def test_views_tally_categories_and_brands() -> None:
    profile = run(
        ev.product_viewed(category="coffee", brand="acme", at=at(1)),
        ev.product_viewed(category="coffee", brand=None, at=at(2)),
        ev.product_viewed(category=None, brand="acme", at=at(3)),
    )
    assert profile.categories_viewed["coffee"].count == 2
    assert profile.brands_viewed["acme"].count == 2
    assert profile.brands_viewed["acme"].last_at == seconds(at(3))


def test_tallies_keep_the_most_recently_seen_within_the_bound() -> None:
    views = [ev.product_viewed(category=f"c{i}", at=at(i)) for i in range(MAX_TALLIES + 2)]
    views.append(ev.product_viewed(category="c0", at=at(MAX_TALLIES + 5)))  # seen again
    profile = run(*views)
    assert len(profile.categories_viewed) == MAX_TALLIES
    assert "c0" in profile.categories_viewed
    assert {"c1", "c2"}.isdisjoint(profile.categories_viewed)  # the least recently seen went


# Engagement, surveys, consent, contact


def test_engagement_counts_per_channel() -> None:
    profile = run(
        ev.message_sent(channel="email", at=at(1)),
        ev.message_sent(channel="sms", at=at(1)),
        ev.message_delivered(channel="sms", at=at(1)),
        ev.message_opened(channel="email", at=at(2)),
        ev.message_clicked(channel="email", at=at(3)),
        ev.message_clicked(channel="email", machine=True, at=at(4)),
        ev.reply_received(channel="sms", at=at(5)),
    )
    assert profile.engagement == {
        "email": Engagement(sent=1, opened=1, clicked=1, last_engaged_at=seconds(at(3))),
        "sms": Engagement(sent=1, delivered=1, replied=1, last_engaged_at=seconds(at(5))),
    }


def test_a_click_on_an_unknown_channel_is_activity_but_no_channel_engagement() -> None:
    profile = run(ev.message_clicked(channel=None, at=at(2)))
    assert profile.engagement == {}
    assert profile.last_activity_at == seconds(at(2))


def test_a_late_open_does_not_move_the_last_engagement_back() -> None:
    profile = run(ev.message_opened(at=at(5)), ev.message_opened(at=at(2)))
    assert profile.engagement["email"].opened == 2
    assert profile.engagement["email"].last_engaged_at == seconds(at(5))


def test_the_latest_survey_answer_wins_and_a_late_older_one_does_not_replace_it() -> None:
    profile = run(
        ev.survey_answered(survey="nps", score=3, at=at(1)),
        ev.survey_answered(survey="nps", score=9, at=at(5), event_id="n-5"),
        ev.survey_answered(survey="nps", score=0, at=at(2)),  # late, older
        ev.survey_answered(survey="csat", score=4, at=at(3), event_id="c-3"),
    )
    assert profile.nps == Answer(score=9, at=seconds(at(5)), event_id="n-5")
    assert profile.csat == Answer(score=4, at=seconds(at(3)), event_id="c-3")


def test_survey_answers_at_the_same_time_keep_the_greater_event_id() -> None:
    a = ev.survey_answered(score=2, at=at(1), event_id="a")
    b = ev.survey_answered(score=8, at=at(1), event_id="b")
    assert run(a, b).nps == run(b, a).nps == Answer(score=8, at=seconds(at(1)), event_id="b")


def test_consent_takes_the_newest_statement_by_time() -> None:
    profile = run(
        ev.customer_created(email_consent=True, sms_consent=True, at=at(0)),
        ev.consent_withdrawn(channel="sms", at=at(5)),
        ev.customer_updated(sms_consent=True, consent_at=at(1), at=at(6)),  # a stale sync
        ev.subscription_changed(channel="email", subscribed=False, at=at(7)),
    )
    assert profile.consent == {"email": False, "sms": False}
    regranted = run(ev.consent_granted(channel="sms", at=at(8)), start=profile)
    assert regranted.consent["sms"] is True


def test_contact_fields_merge_the_non_null_ones() -> None:
    profile = run(
        ev.customer_created(
            email="ann@example.com",
            locale="en-GB",
            time_zone="Europe/London",
            birthday=date(1990, 4, 2),
        ),
        ev.customer_updated(email=None, phone="+14155550123", locale="nl", at=at(1)),
    )
    assert (profile.email, profile.phone) == (True, True)
    assert (profile.locale, profile.time_zone, profile.birthday) == (
        "nl",
        "Europe/London",
        "1990-04-02",
    )


def test_a_subscription_with_a_phone_number_says_a_phone_is_known() -> None:
    event = ev.envelope(
        type(ev.subscription_changed()),
        {"channel": "sms", "status": "subscribed", "source": "form", "phone": "+14155550123"},
    )
    profile = run(event)
    assert profile.phone and profile.consent == {"sms": True}


def test_a_conversion_changes_nothing_even_before_its_order() -> None:
    profile = run(ev.order_placed())
    assert apply(profile, ev.conversion_attributed(), NOW) is profile
    assert facts(profile).revenue == Decimal("20.00")


def test_now_does_not_change_the_arithmetic() -> None:
    events = [ev.order_placed(at=at(1)), ev.product_viewed(at=at(2))]
    early = late = None
    for event in events:
        early = apply(early, event, seconds(T0))
        late = apply(late, event, seconds(T0) + 1000 * DAY_S)
    assert early is not None and late is not None
    assert encode(early) == encode(late)
