"""Suppressions are not consent: a complaint or a bounce keeps marketing off the address until
an operator clears it, ordered by event time as dispatch orders them; transactional mail is
dispatch's call."""

from __future__ import annotations

from services.triggers.journeys import fire_due
from services.triggers.journeys.state import ChannelConsent
from tests.unit.triggers.builders import (
    T0,
    address_suppressed,
    address_unsuppressed,
    at,
    cart_updated,
    complaint,
    consent_withdrawn,
    consenting_customer,
    entries,
    exits,
    fires,
    hard_bounce,
    open_journeys,
    order_placed,
    viewed,
    with_facts_only,
)
from tests.unit.triggers.test_consent import CART, EMAIL_ONLY

BROWSE = "browse_abandonment"
ORDER = "order_confirmation"


def test_a_complaint_ends_email_marketing_journeys_and_leaves_consent_alone() -> None:
    customer = consenting_customer(EMAIL_ONLY)
    customer.send(cart_updated(T0))
    assert customer.state is not None
    consent = dict(customer.state.contact.consent)
    assert exits(customer.send(complaint(at(minutes=1))), CART) == ["suppressed"]
    assert customer.state.contact.consent == consent
    assert consent["email"] == ChannelConsent(granted=True, at=consent["email"].at)
    customer.send(cart_updated(at(minutes=2), cart_id="cart-2"))
    assert open_journeys(customer.state, CART) == []


def test_a_reminder_already_due_is_not_sent_after_a_complaint() -> None:
    customer = consenting_customer(EMAIL_ONLY)
    customer.send(cart_updated(T0))
    assert customer.state is not None
    recorded = with_facts_only(customer.state, complaint(at(minutes=10)))
    decision = fire_due(recorded, at(minutes=30), customer.campaigns)
    assert fires(decision.actions) == []
    assert exits(decision.actions, CART) == ["suppressed"]


def test_after_a_clearing_a_new_cart_starts_the_journey_again_on_email() -> None:
    customer = consenting_customer(EMAIL_ONLY)
    customer.send(cart_updated(T0))
    customer.send(complaint(at(minutes=1)))
    assert exits(customer.send(address_unsuppressed(at(minutes=2))), CART) == []
    assert len(entries(customer.send(cart_updated(at(minutes=3), cart_id="cart-2")), CART)) == 1
    customer.run_until(at(hours=1))
    ((_, reminder),) = customer.fired(CART)
    assert [c.value for c in reminder.data.channels] == ["email"]
    assert reminder.data.context.cart is not None
    assert reminder.data.context.cart.cart_id == "cart-2"


def test_a_clearing_older_than_the_suppression_changes_nothing() -> None:
    customer = consenting_customer(EMAIL_ONLY)
    customer.send(hard_bounce(at(minutes=5)))
    customer.send(address_unsuppressed(at(minutes=1)))  # late, and about an earlier bounce
    customer.send(cart_updated(at(minutes=6)))
    assert open_journeys(customer.state, CART) == []


def test_a_suppression_reported_again_after_the_clearing_stays_cleared() -> None:
    customer = consenting_customer(EMAIL_ONLY)
    customer.send(complaint(at(minutes=1)))
    customer.send(address_unsuppressed(at(minutes=2)))
    customer.send(complaint(at(minutes=1)))  # the same report again, past the seen-ids window
    customer.send(cart_updated(at(minutes=3)))
    assert open_journeys(customer.state, CART) != []
    assert exits(customer.send(complaint(at(minutes=4))), CART) == ["suppressed"]  # a new one


def test_reports_and_clearings_out_of_order_are_ordered_by_their_time() -> None:
    newest_report = consenting_customer(EMAIL_ONLY)
    newest_report.send(complaint(at(minutes=5)))
    newest_report.send(complaint(at(minutes=1)))  # an older report, arriving late
    newest_report.send(address_unsuppressed(at(minutes=3)))  # clears the older one only
    newest_report.send(cart_updated(at(minutes=6)))
    assert open_journeys(newest_report.state, CART) == []
    newest_clearing = consenting_customer(EMAIL_ONLY)
    newest_clearing.send(complaint(at(minutes=1)))
    newest_clearing.send(address_unsuppressed(at(minutes=5)))
    newest_clearing.send(address_unsuppressed(at(minutes=2)))  # an older clearing, late
    newest_clearing.send(complaint(at(minutes=3)))  # reported before the newest clearing
    newest_clearing.send(cart_updated(at(minutes=6)))
    assert open_journeys(newest_clearing.state, CART) != []


def test_a_hard_bounce_ends_the_marketing_campaigns_that_only_use_email() -> None:
    customer = consenting_customer()  # email and SMS consent
    customer.send(cart_updated(T0))  # abandoned cart: email and SMS
    customer.send(viewed(at(minutes=1)))  # browse abandonment: email only
    actions = customer.send(hard_bounce(at(minutes=2)))
    assert exits(actions, BROWSE) == ["suppressed"]
    assert exits(actions, CART) == [] and open_journeys(customer.state, CART) != []
    customer.send(viewed(at(minutes=3), "p2"))
    assert open_journeys(customer.state, BROWSE) == []


def test_repeated_soft_bounces_suppress_like_a_hard_bounce() -> None:
    customer = consenting_customer(EMAIL_ONLY)
    customer.send(cart_updated(T0))
    actions = customer.send(address_suppressed(at(minutes=1), scope="all", reason="soft_bounces"))
    assert exits(actions, CART) == ["suppressed"]
    assert customer.state is not None
    (scope,) = customer.state.contact.suppressions["email"].scopes.items()
    assert (scope[0], scope[1].reason) == ("all", "soft_bounces")


def test_the_order_confirmation_still_fires_after_a_hard_bounce() -> None:
    customer = consenting_customer()
    customer.send(hard_bounce(at(minutes=1)))
    (confirmation,) = fires(customer.send(order_placed(at(minutes=2))), ORDER)
    assert confirmation.data.transactional
    assert [c.value for c in confirmation.data.channels] == ["email"]  # dispatch decides


def test_a_clearing_does_not_give_back_consent_the_customer_withdrew() -> None:
    customer = consenting_customer(EMAIL_ONLY)
    customer.send(consent_withdrawn(at(minutes=1), "email"))
    customer.send(complaint(at(minutes=2)))
    customer.send(address_unsuppressed(at(minutes=3)))
    customer.send(cart_updated(at(minutes=4)))
    assert open_journeys(customer.state, CART) == []
    assert customer.state is not None
    assert customer.state.contact.consent["email"].granted is False


def test_the_exit_says_suppressed_only_when_a_consented_channel_is_left() -> None:
    customer = consenting_customer()
    customer.send(cart_updated(T0))  # email and SMS
    customer.send(consent_withdrawn(at(minutes=1), "sms"))
    assert customer.state is not None
    both = with_facts_only(customer.state, complaint(at(minutes=2)))
    assert exits(fire_due(both.copy(), at(minutes=30), customer.campaigns).actions, CART) == [
        "suppressed"
    ]
    neither = with_facts_only(both, consent_withdrawn(at(minutes=3), "email"))
    decision = fire_due(neither, at(minutes=30), customer.campaigns)
    assert exits(decision.actions, CART) == ["opted_out"]
