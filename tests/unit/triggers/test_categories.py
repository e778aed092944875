"""Campaign categories: a category the customer dropped stops its journeys and keeps them from
starting; the other campaigns carry on; a newer choice wins; the category reaches dispatch."""

from __future__ import annotations

import pytest

from services.triggers.campaigns import CampaignConfigError, parse_campaigns
from services.triggers.campaigns.loader import _default_source
from tests.unit.triggers.builders import (
    T0,
    at,
    cart_updated,
    category_preference,
    consenting_customer,
    entries,
    exits,
    fires,
    open_journeys,
)

CART = "abandoned_cart"
OFFERS = parse_campaigns(
    "extends: default\ncampaigns:\n  abandoned_cart:\n    category: offers\n",
    "acme.yaml",
    base=_default_source(),
)


def test_dropping_the_category_ends_its_journeys() -> None:
    customer = consenting_customer(OFFERS)
    customer.send(cart_updated(T0))
    assert open_journeys(customer.state, CART) != []
    assert exits(customer.send(category_preference(at(minutes=1), "offers", False)), CART) == [
        "opted_out"
    ]


def test_a_dropped_category_keeps_its_campaigns_from_starting_but_not_the_others() -> None:
    customer = consenting_customer(OFFERS)
    customer.send(category_preference(T0, "offers", False))
    assert entries(customer.send(cart_updated(at(minutes=1))), CART) == []
    other = consenting_customer(OFFERS)
    other.send(category_preference(T0, "tips", False))
    assert entries(other.send(cart_updated(at(minutes=1))), CART) != []


def test_a_newer_choice_wins_and_an_older_one_changes_nothing() -> None:
    customer = consenting_customer(OFFERS)
    customer.send(category_preference(at(minutes=5), "offers", False))
    customer.send(category_preference(at(minutes=1), "offers", True))  # delivered late
    assert entries(customer.send(cart_updated(at(minutes=6))), CART) == []
    customer.send(category_preference(at(minutes=7), "offers", True))
    assert entries(customer.send(cart_updated(at(minutes=8))), CART) != []


def test_the_fired_step_carries_the_campaign_category() -> None:
    customer = consenting_customer(OFFERS)
    customer.send(cart_updated(T0))
    (fire,) = fires(customer.tick(at(minutes=30)), CART)
    assert fire.data.category == "offers"


def test_a_transactional_campaign_cannot_have_a_category() -> None:
    source = "extends: default\ncampaigns:\n  order_confirmation:\n    category: news\n"
    with pytest.raises(CampaignConfigError, match="category"):
        parse_campaigns(source, "acme.yaml", base=_default_source())
