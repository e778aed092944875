"""What a bounce or complaint publishes has its effect downstream: the triggers service ends
the customer's email-only marketing journeys, dispatch suppresses the address."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta

from services.dispatch.contacts import ALL, MARKETING, facts_from
from services.feedback.bounces.notifications import SoftRule, take_notification
from services.feedback.bounces.ses import parse_notification
from services.feedback.bounces.store import MemorySuppressionStore
from services.feedback.directory import ContactFacts, ContactRef
from services.feedback.directory.memory import MemoryDirectory
from shared.events import EventEnvelope, FeedbackEvent, parse_feedback_event
from tests.support.sns import bounce, complaint
from tests.unit.triggers.builders import (
    CUSTOMER,
    SHOP,
    T0,
    at,
    cart_updated,
    consenting_customer,
    exits,
)
from tests.unit.triggers.test_consent import CART, EMAIL_ONLY


async def _published(ses: dict[str, object]) -> list[FeedbackEvent]:
    directory = MemoryDirectory()
    await directory.record([ContactFacts(ContactRef(SHOP, CUSTOMER), email="a@example.com")], [])
    out: list[EventEnvelope] = []

    async def publish(events: Sequence[EventEnvelope]) -> None:
        out.extend(events)

    await take_notification(
        "sns-1",
        T0,
        parse_notification(json.dumps(ses)),
        directory=directory,
        store=MemorySuppressionStore(),
        publish=publish,
        soft=SoftRule(3, timedelta(days=7)),
    )
    return [parse_feedback_event(e.model_dump_json()) for e in out]  # as consumers read them


async def test_a_hard_bounce_or_a_complaint_ends_email_only_marketing_journeys() -> None:
    when = at(minutes=1).isoformat()
    cases = (
        (bounce("a@example.com", at=when), ALL),
        (complaint("a@example.com", at=when), MARKETING),
    )
    for ses, scope in cases:
        (event,) = await _published(ses)
        customer = consenting_customer(EMAIL_ONLY)
        customer.send(cart_updated(T0))
        assert exits(customer.send(event), CART) == ["suppressed"]
        facts = facts_from(event)
        assert facts is not None
        assert [(a.address, a.scope) for a in facts.addresses] == [("a@example.com", scope)]
