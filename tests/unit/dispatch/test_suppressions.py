"""Dispatch's side of suppressions: what each feedback event asks of the contact store, and
the send-time decision for an address suppressed for marketing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from services.dispatch.contacts import ALL, MARKETING, AddressFact, facts_from
from services.dispatch.policy import ChannelState, Contact, History, Send, ShopPolicy, Skip
from services.dispatch.policy import plan_message as plan
from shared.events import parse_feedback_event
from shared.events.messages import SkipReason
from shared.events.shop import Channel
from shared.events.triggers import TriggerFired

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
NOON = datetime(2026, 11, 24, 11, 0, tzinfo=UTC)


def feedback(kind: str, data: dict[str, Any]) -> Any:
    return parse_feedback_event(
        json.dumps(
            {
                "specversion": "1.0",
                "id": f"e-{kind}",
                "source": "/shops/acme/feedback/ses",
                "type": kind,
                "time": AT.isoformat(),
                "shopid": "acme",
                "customerid": "ada",
                "data": data,
            }
        )
    )


def test_each_event_suppresses_or_clears_the_lower_cased_address() -> None:
    cases = [
        ("email.bounced", {"email": "Ada@Example.com", "kind": "hard", "diagnostic": "550"}),
        ("complaint.received", {"email": "ada@example.com"}),
        (
            "address.suppressed",
            {"email": "ada@example.com", "scope": "all", "reason": "soft_bounces", "detail": "3"},
        ),
        ("address.unsuppressed", {"email": "ada@example.com", "actor": "ops", "reason": "ok"}),
    ]
    found: list[AddressFact] = []
    for kind, data in cases:
        facts = facts_from(feedback(kind, data))
        assert facts is not None and facts.consent == {} and facts.undeliverable == {}
        found.extend(facts.addresses)
    assert found == [
        AddressFact("ada@example.com", AT, ALL, "hard bounce: 550"),
        AddressFact("ada@example.com", AT, MARKETING, "complaint: marked as spam"),
        AddressFact("ada@example.com", AT, ALL, "soft_bounces: 3"),
        AddressFact("ada@example.com", AT),
    ]
    assert facts_from(feedback("email.bounced", {"email": "a@example.com", "kind": "soft"})) is None


def _trigger(transactional: bool) -> TriggerFired:
    return TriggerFired.model_validate(
        {
            "campaign_id": "order_confirmation" if transactional else "abandoned_cart",
            "journey_id": "j-1",
            "step_id": "s-1",
            "step_index": 0,
            "transactional": transactional,
            "channels": ["email"],
            "template_id": "cart/reminder-1",
            "due_at": NOON.isoformat(),
        }
    )


def test_an_address_suppressed_for_marketing_still_gets_transactional_mail() -> None:
    email = ChannelState("ada@example.com", consent=True, marketing_suppressed="complaint")
    contact = Contact(email=email)

    def decide(transactional: bool) -> object:
        return plan(
            _trigger(transactional),
            contact,
            History(),
            ShopPolicy(),
            NOON,
            lambda channel: channel is Channel.EMAIL,
        )

    marketing = decide(False)
    assert isinstance(marketing, Skip)
    assert (marketing.reason, marketing.detail) == (SkipReason.SUPPRESSED, "email: complaint")
    assert decide(True) == Send(Channel.EMAIL, "ada@example.com")
