"""What the unsubscribe routes publish, fed to the triggers service's decision function: a
one-click withdrawal ends the marketing journeys it should, and a withdrawal after a change of
mind is not taken for a duplicate of the first (triggers drops event ids it has seen)."""

from __future__ import annotations

from datetime import datetime

from services.feedback.directory import ContactRef
from services.feedback.unsubscribe.consent_events import (
    ONE_CLICK,
    PREFERENCE_CENTER,
    HeldConsent,
    consent_event,
    form_origin,
    one_click_origin,
)
from services.triggers.campaigns import parse_campaigns
from services.triggers.campaigns.loader import _default_source
from shared.events.feedback import ConsentGrantedEvent, ConsentWithdrawnEvent
from shared.events.shop import Channel
from tests.unit.triggers.builders import (
    CUSTOMER,
    SHOP,
    T0,
    at,
    cart_updated,
    consenting_customer,
    exits,
    open_journeys,
)

CART = "abandoned_cart"
EMAIL_ONLY = parse_campaigns(
    "extends: default\ncampaigns:\n  abandoned_cart:\n    steps:\n"
    "      - {id: one, delay: 30m, channels: [email], template: cart/one}\n",
    "acme.yaml",
    base=_default_source(),
)
REF = ContactRef(SHOP, CUSTOMER)


def one_click(consent: HeldConsent, now: datetime) -> ConsentWithdrawnEvent | ConsentGrantedEvent:
    return consent_event(
        REF,
        Channel.EMAIL,
        granted=False,
        source=ONE_CLICK,
        origin_id=one_click_origin(REF, Channel.EMAIL, consent),
        consent=consent,
        now=now,
    )


def test_a_one_click_withdrawal_ends_the_email_journeys() -> None:
    customer = consenting_customer(EMAIL_ONLY)
    customer.send(cart_updated(T0))
    assert open_journeys(customer.state, CART)
    signed_up = HeldConsent(True, T0)
    assert exits(customer.send(one_click(signed_up, at(minutes=1))), CART) == ["opted_out"]
    retry = one_click(signed_up, at(minutes=2))  # the provider's retry: the same fact
    customer.send(cart_updated(at(minutes=3)))
    assert open_journeys(customer.state, CART) == []
    assert customer.send(retry) == ()


def test_withdrawn_granted_withdrawn_again_ends_the_journey_again() -> None:
    customer = consenting_customer(EMAIL_ONLY)
    customer.send(one_click(HeldConsent(True, T0), at(minutes=1)))
    regrant = consent_event(
        REF,
        Channel.EMAIL,
        granted=True,
        source=PREFERENCE_CENTER,
        origin_id=form_origin("nonce-1", Channel.EMAIL, True),
        consent=HeldConsent(False, at(minutes=1)),
        now=at(minutes=2),
    )
    customer.send(regrant)
    customer.send(cart_updated(at(minutes=3)))
    assert open_journeys(customer.state, CART)  # subscribed again: the cart journey runs
    again = one_click(HeldConsent(True, at(minutes=2)), at(minutes=4))
    assert exits(customer.send(again), CART) == ["opted_out"]
