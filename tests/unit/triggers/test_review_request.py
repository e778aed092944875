"""Review request: at delivery, never before; not when already answered or cancelled."""

from __future__ import annotations

from services.triggers.campaigns import parse_campaigns
from services.triggers.campaigns.loader import _default_source
from services.triggers.journeys import fire_due
from tests.unit.triggers.builders import (
    T0,
    at,
    consenting_customer,
    delivered,
    entries,
    exits,
    fires,
    order_cancelled,
    order_placed,
    shipment_created,
    subscription,
    survey_answered,
    with_facts_only,
)

REVIEW = "review_request"
LATER = parse_campaigns(
    "extends: default\ncampaigns:\n  review_request:\n    steps:\n"
    "      - {id: survey, delay: 2h, channels: [email], template: review/request}\n",
    "acme.yaml",
    base=_default_source(),
)


def test_the_request_goes_out_when_the_parcel_arrives_not_before() -> None:
    customer = consenting_customer()
    customer.send(order_placed(T0))
    assert fires(customer.send(shipment_created(at(hours=3))), REVIEW) == []
    (fire,) = fires(customer.send(delivered(at(days=2))), REVIEW)
    assert fire.data.due_at == at(days=2)
    assert fire.data.journey_id == "order:o-1"
    assert fire.data.context.order is not None and fire.data.context.order.order_id == "o-1"
    assert fire.data.survey == "csat"  # the default request asks for a CSAT answer


def test_a_step_without_a_survey_asks_for_none() -> None:
    customer = consenting_customer(LATER)
    customer.send(order_placed(T0))
    customer.send(delivered(at(days=2)))
    (fire,) = fires(customer.send(delivered(at(days=2, hours=2), shipment_id="s-9")), REVIEW)
    assert fire.data.survey is None


def test_one_request_per_order_even_with_several_parcels() -> None:
    customer = consenting_customer()
    customer.send(order_placed(T0))
    customer.send(delivered(at(days=2), shipment_id="s-1"))
    assert fires(customer.send(delivered(at(days=3), shipment_id="s-2")), REVIEW) == []


def test_an_answered_survey_stops_it_at_event_and_at_fire_time() -> None:
    customer = consenting_customer()
    customer.send(order_placed(T0))
    customer.send(survey_answered(at(days=1)))
    assert entries(customer.send(delivered(at(days=2))), REVIEW) == []
    later = consenting_customer(LATER)
    later.send(order_placed(T0))
    later.send(delivered(at(days=2)))
    assert exits(later.send(survey_answered(at(days=2, hours=1))), REVIEW) == ["survey_answered"]
    fresh = consenting_customer(LATER)
    fresh.send(order_placed(T0))
    fresh.send(delivered(at(days=2)))
    assert fresh.state is not None
    answered = with_facts_only(fresh.state, survey_answered(at(days=2, hours=1)))
    decision = fire_due(answered, at(days=2, hours=2), LATER)
    assert fires(decision.actions) == [] and exits(decision.actions, REVIEW) == ["survey_answered"]


def test_a_cancelled_order_or_an_opt_out_stops_it() -> None:
    customer = consenting_customer(LATER)
    customer.send(order_placed(T0))
    customer.send(delivered(at(days=2)))
    assert exits(customer.send(order_cancelled(at(days=2, minutes=5))), REVIEW) == [
        "order_cancelled"
    ]
    other = consenting_customer(LATER)
    other.send(order_placed(T0))
    other.send(delivered(at(days=2)))
    actions = other.send(subscription(at(days=2, minutes=1), "email", False))
    assert exits(actions, REVIEW) == ["opted_out"]  # this shop's request is email only
