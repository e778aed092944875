"""What the contact store learns from events: withdrawals are told apart from consent never
given, and a number that opted out at Twilio is blocked until a new opt-in."""

from __future__ import annotations

from typing import Any

import orjson

from services.dispatch.contacts import OPTED_OUT, WITHDRAWN, _withdrawn, facts_from
from shared.events import parse_feedback_event, parse_shop_event

AT = "2026-12-01T10:00:00Z"


def _event(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"e-{kind}",
        "source": "/tests",
        "type": kind,
        "time": AT,
        "shopid": "shop-a",
        "customerid": "c1",
        "data": data,
    }


def feedback(kind: str, data: dict[str, Any]) -> Any:
    return facts_from(parse_feedback_event(orjson.dumps(_event(kind, data))))


def shop(kind: str, data: dict[str, Any]) -> Any:
    return facts_from(parse_shop_event(orjson.dumps(_event(kind, data))))


def test_an_sms_stop_is_stored_as_a_withdrawal() -> None:
    facts = feedback("consent.withdrawn", {"channel": "sms", "source": "sms_keyword"})
    fact = facts.consent["sms"]
    assert fact.granted is False and fact.withdrawn
    assert fact.stored_source == f"{WITHDRAWN}sms_keyword"
    start = feedback("consent.granted", {"channel": "sms", "source": "sms_keyword"})
    assert start.consent["sms"].stored_source == "sms_keyword"


def test_denied_in_the_shops_profile_is_not_a_withdrawal() -> None:
    denied = {"status": "denied", "source": "shopify", "recorded_at": AT}
    facts = shop("customer.created", {"consent": {"sms": denied}})
    assert facts.consent["sms"].withdrawn is False
    assert facts.consent["sms"].stored_source == "shopify"
    unsubscribed = shop(
        "subscription.changed", {"channel": "sms", "status": "unsubscribed", "source": "klaviyo"}
    )
    assert unsubscribed.consent["sms"].withdrawn is True


def test_a_number_that_opted_out_at_twilio_withdraws_consent_and_is_blocked() -> None:
    data = {"phone": "+14155550123", "error_code": "21610", "permanent": True}
    facts = feedback("sms.delivery_failed", data)
    assert facts.consent["sms"].withdrawn and facts.consent["sms"].granted is False
    assert OPTED_OUT in facts.undeliverable["sms"]  # so that a newer START lifts it
    dead = feedback("sms.delivery_failed", {**data, "error_code": "30005"})
    assert dead.undeliverable["sms"] == "permanent failure 30005" and not dead.consent
    assert feedback("sms.delivery_failed", {**data, "permanent": False}) is None


def test_a_stored_row_reads_as_withdrawn_only_with_the_mark() -> None:
    def row(consent: bool | None, source: str | None) -> dict[str, Any]:
        return {"sms_consent": consent, "sms_consent_source": source}

    assert _withdrawn(row(False, f"{WITHDRAWN}sms_keyword"), "sms")
    assert not _withdrawn(row(False, "shopify"), "sms")
    assert not _withdrawn(row(True, f"{WITHDRAWN}old"), "sms")
    assert not _withdrawn(row(None, None), "sms")
