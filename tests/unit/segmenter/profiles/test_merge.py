"""A visitor's history joined into the customer's profile on `customer.identified`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.segmenter.profiles.apply import apply
from services.segmenter.profiles.merge import merge_visitor
from services.segmenter.profiles.model import Answer, Membership, Profile, encode
from tests.support import segmenter_events as ev
from tests.support.segmenter_events import at, seconds
from tests.unit.segmenter.profiles.builders import NOW, day, facts, run

VISITOR: dict[str, Any] = {"customer": None, "anonymous": "v1"}


def _visitor() -> Profile:
    return run(
        ev.product_viewed(category="coffee", brand="acme", at=at(1), **VISITOR),
        ev.product_viewed(category="tea", at=at(2), **VISITOR),
        ev.cart_updated(at=at(2, hours=1), **VISITOR),
        ev.order_placed(order_id="guest", total="12.00", at=at(3), **VISITOR),
    )


def _customer() -> Profile:
    profile = run(
        ev.customer_created(email_consent=True, locale="nl", at=at(0)),
        ev.product_viewed(category="coffee", at=at(2)),
        ev.order_placed(order_id="o1", total="20.00", at=at(2, hours=2)),
    )
    profile.segments = {"first-time": Membership(since=seconds(at(2)), rule_version=1)}
    return profile


def test_a_customer_without_a_profile_takes_the_visitor_whole() -> None:
    visitor = _visitor()
    visitor.segments = {"browsers": Membership(since=seconds(at(1)), rule_version=1)}
    visitor.published = 42
    visitor.entries = {"browsers": 1}
    merged = merge_visitor(visitor, None, "c9")
    assert (merged.customer_id, merged.anonymous_id, merged.shop_id) == ("c9", "v1", "s1")
    assert merged.orders == visitor.orders
    assert merged.activity == visitor.activity
    assert merged.seen_ids == visitor.seen_ids
    assert (merged.segments, merged.entries, merged.published) == ({}, {}, 0)  # decided anew
    assert visitor.customer_id is None and visitor.merged == []  # the argument is as it was


def test_a_known_customer_gains_the_visitor_history_and_keeps_their_own_statements() -> None:
    visitor, customer = _visitor(), _customer()
    merged = merge_visitor(visitor, customer, "c1")
    assert merged.customer_id == "c1" and merged.anonymous_id is None
    assert (merged.email, merged.locale, merged.consent) == (True, "nl", {"email": True})
    assert merged.segments == customer.segments
    assert merged.categories_viewed["coffee"].count == 2
    assert merged.categories_viewed["tea"].count == 1
    assert merged.brands_viewed["acme"].count == 1
    assert merged.categories_bought["coffee"].count == 2
    found = facts(merged)
    assert (found.orders, found.revenue) == (2, Decimal("32.00"))
    assert found.first_order_at == seconds(at(2, hours=2))
    assert merged.activity["product.viewed"] == {
        day(seconds(at(1))): 1,
        day(seconds(at(2))): 2,
    }
    assert merged.first_seen_at == seconds(at(0))
    assert merged.last_activity_at == seconds(at(3))
    assert set(visitor.seen_ids) <= set(merged.seen_ids)


def test_neither_argument_is_changed() -> None:
    visitor, customer = _visitor(), _customer()
    before = encode(visitor), encode(customer)
    merge_visitor(visitor, customer, "c1")
    merge_visitor(visitor, None, "c1")
    assert (encode(visitor), encode(customer)) == before


def test_merging_twice_is_merging_once() -> None:
    visitor, customer = _visitor(), _customer()
    once = merge_visitor(visitor, customer, "c1")
    assert merge_visitor(visitor, once, "c1") is once
    taken = merge_visitor(visitor, None, "c1")
    assert merge_visitor(visitor, taken, "c1") is taken


def test_a_visitor_event_replayed_after_the_merge_changes_nothing() -> None:
    view = ev.product_viewed(at=at(1), **VISITOR)
    visitor = run(view)
    merged = merge_visitor(visitor, _customer(), "c1")
    assert apply(merged, view, NOW) is merged


def test_a_visitor_identified_again_with_new_history_is_added() -> None:
    customer = merge_visitor(_visitor(), _customer(), "c1")
    browsing_on = run(ev.product_viewed(category="tea", at=at(9), **VISITOR))
    merged = merge_visitor(browsing_on, customer, "c1")
    assert merged.categories_viewed["tea"].count == 2
    assert merged.last_activity_at == seconds(at(9))


def test_notes_and_orders_of_both_meet() -> None:
    visitor = run(
        ev.order_placed(order_id="guest", total="12.00", at=at(3), **VISITOR),
        ev.order_cancelled(order_id="o1", at=at(4), **VISITOR),
    )
    customer = run(
        ev.order_placed(order_id="o1", total="20.00", at=at(2)),
        ev.order_refunded(order_id="guest", amount="2.00", at=at(5)),
    )
    merged = merge_visitor(visitor, customer, "c1")
    found = facts(merged)
    assert (found.orders, found.revenue) == (1, Decimal("10.00"))
    assert merged.pending == []


def test_the_later_survey_answer_stands() -> None:
    visitor = run(ev.survey_answered(score=2, at=at(5), event_id="late", **VISITOR))
    customer = run(ev.survey_answered(score=9, at=at(1), event_id="early"))
    merged = merge_visitor(visitor, customer, "c1")
    assert merged.nps == Answer(score=2, at=seconds(at(5)), event_id="late")


def test_engagement_adds_up_per_channel() -> None:
    visitor = run(ev.message_clicked(at=at(4), **VISITOR))
    customer = run(ev.message_sent(at=at(1)), ev.message_opened(at=at(2)))
    email = merge_visitor(visitor, customer, "c1").engagement["email"]
    assert (email.sent, email.opened, email.clicked) == (1, 1, 1)
    assert email.last_engaged_at == seconds(at(4))
