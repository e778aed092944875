"""Consent snapshot: every source of opt-in and opt-out, and stale statements ignored.

Complaints and bounces are not consent: test_suppressions.py."""

from __future__ import annotations

from datetime import timedelta

from services.triggers.campaigns import parse_campaigns
from services.triggers.campaigns.loader import _default_source
from tests.unit.triggers.builders import (
    T0,
    at,
    cart_updated,
    consent_withdrawn,
    consenting_customer,
    customer_updated,
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


def test_an_sms_stop_only_ends_journeys_that_cannot_use_email() -> None:
    customer = consenting_customer()
    customer.send(cart_updated(T0))
    assert exits(customer.send(consent_withdrawn(at(minutes=1), "sms")), CART) == []
    assert open_journeys(customer.state, CART) != []


def test_a_stale_consent_from_the_shop_does_not_undo_an_opt_out() -> None:
    customer = consenting_customer(EMAIL_ONLY)
    customer.send(consent_withdrawn(at(minutes=1), "email"))
    stale = {
        "email": {
            "status": "granted",
            "source": "shopify",
            "recorded_at": T0 - timedelta(days=3),
        }
    }
    customer.send(customer_updated(at(minutes=2), consent=stale))
    customer.send(cart_updated(at(minutes=3)))
    assert open_journeys(customer.state, CART) == []
