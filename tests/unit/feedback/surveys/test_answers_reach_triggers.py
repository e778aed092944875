"""What the survey routes publish, fed to the triggers service's decision function: an answer
(on the page or by SMS, a detractor's too) ends the review request of the order it is about,
and only that one; the order id dispatch signs and the one the index learns are the ones
triggers compare."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

from services.feedback.directory import ContactRef, SentMessage
from services.feedback.index import survey_order
from services.feedback.surveys.answers import Answer
from services.feedback.surveys.records import page_answer, sms_answer
from services.triggers.campaigns import parse_campaigns
from services.triggers.campaigns.loader import _default_source
from services.triggers.journeys import FireStep
from shared.events.messages import message_id
from shared.events.shop import Channel
from shared.survey_links import Invitation
from tests.unit.triggers.builders import (
    CUSTOMER,
    SHOP,
    T0,
    Customer,
    at,
    consenting_customer,
    delivered,
    exits,
    fires,
    open_journeys,
    order_placed,
)

REVIEW = "review_request"
WITH_REMINDER = parse_campaigns(
    "extends: default\ncampaigns:\n  review_request:\n    steps:\n"
    "      - {id: survey, delay: 0, channels: [email, sms], template: review/request,"
    " survey: csat}\n"
    "      - {id: reminder, delay: 3d, channels: [email], template: review/request,"
    " survey: csat}\n",
    "acme.yaml",
    base=_default_source(),
)
"""The review request with a reminder: something left for an answer to end."""


def _requested(order_id: str = "o-1") -> tuple[Customer, FireStep]:
    customer = consenting_customer(WITH_REMINDER)
    customer.send(order_placed(T0, order_id=order_id))
    (fire,) = fires(customer.send(delivered(at(days=2), order_id=order_id)), REVIEW)
    return customer, fire


def _invitation(fire: FireStep) -> Invitation:
    """As dispatch signs it: the message of the trigger, the order of its context."""
    assert fire.data.survey is not None and fire.data.context.order is not None
    return Invitation(
        shop_id=SHOP,
        customer_id=CUSTOMER,
        message_id=message_id(fire.trigger_id, "email"),
        campaign_id=fire.data.campaign_id,
        survey=fire.data.survey,
        expires_at=at(days=32),
        order_id=fire.data.context.order.order_id,
    )


def test_a_detractors_answer_on_the_page_ends_the_review_request() -> None:
    customer, fire = _requested()
    answer = page_answer(
        _invitation(fire),
        Answer(1, "Arrived broken"),
        nonce="n-1",
        tags=[],
        now=at(days=2, hours=1),
    )
    assert exits(customer.send(answer), REVIEW) == ["survey_answered"]
    assert open_journeys(customer.state, REVIEW) == []
    assert fires(customer.run_until(at(days=10)), REVIEW) == []  # no reminder


def test_an_answer_about_another_order_leaves_this_request_running() -> None:
    customer, fire = _requested("o-1")
    elsewhere = dataclasses.replace(_invitation(fire), message_id=str(uuid.uuid4()), order_id="o-2")
    answer = page_answer(elsewhere, Answer(5, None), nonce="n", tags=[], now=at(days=2, hours=1))
    assert exits(customer.send(answer), REVIEW) == []
    assert open_journeys(customer.state, REVIEW) == ["order:o-1"]


def test_a_bare_number_texted_back_ends_it_with_the_order_the_index_learnt() -> None:
    customer, fire = _requested()
    asked = SentMessage(
        message_id=message_id(fire.trigger_id, "sms"),
        ref=ContactRef(SHOP, CUSTOMER),
        channel=Channel.SMS,
        trigger_id=fire.trigger_id,
        campaign_id=fire.data.campaign_id,
        transactional=False,
        provider_id="SM" + "0" * 32,
        sent_at=at(days=2),
        survey=fire.data.survey,
        order_id=survey_order(fire.data),
    )
    answer = sms_answer(
        asked.ref, asked, 2, sid="SM" + "1" * 32, now=at(days=2) + timedelta(minutes=7)
    )
    assert answer.data.order_id == "o-1"
    assert exits(customer.send(answer), REVIEW) == ["survey_answered"]


def test_a_replaced_answer_changes_nothing_more_for_triggers() -> None:
    customer, fire = _requested()
    invitation = _invitation(fire)
    first = page_answer(invitation, Answer(2, None), nonce="n-1", tags=[], now=at(days=2, hours=1))
    second = page_answer(invitation, Answer(4, None), nonce="n-2", tags=[], now=at(days=2, hours=2))
    customer.send(first)
    assert customer.send(second) == ()
    assert customer.send(first) == ()  # a replay: dropped
