"""What the index learns from each topic, and what it parks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import orjson
from aiokafka import ConsumerRecord

from services.feedback.directory import ContactRef
from services.feedback.directory.memory import MemoryDirectory
from services.feedback.index import Indexer, facts_from
from shared.events import (
    parse_feedback_event,
    parse_message_event,
    parse_shop_event,
    parse_trigger_event,
)
from shared.events.shop import Channel
from shared.topics import FEEDBACK_EVENTS, MESSAGES_STATUS, SHOP_EVENTS, TRIGGERS_FIRED

AT = "2026-11-23T10:00:00Z"
REF = ContactRef("acme", "c1")


def shop_event(kind: str, data: dict[str, Any], customer: str | None = "c1") -> dict[str, Any]:
    event = {"id": f"e-{kind}", "source": "/t", "type": kind, "time": AT, "shopid": "acme"}
    if customer is None:
        event["anonymousid"] = "v1"
    else:
        event["customerid"] = customer
    return {**event, "data": data}


def sent_status(channel: str | None = "sms") -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": "s-1",
        "source": "/services/dispatch",
        "type": "message.sent",
        "time": AT,
        "shopid": "acme",
        "customerid": "c1",
        "data": {
            "message_id": "m-1",
            "trigger_id": "t-1",
            "campaign_id": "abandoned_cart",
            "step_id": "reminder-1",
            "channel": channel,
            "transactional": False,
            "status": "sent",
            "provider_id": "SM123",
        },
    }


def test_a_customer_event_gives_addresses_and_consent() -> None:
    consent = {"sms": {"status": "denied", "source": "checkout", "recorded_at": AT}}
    raw = shop_event(
        "customer.updated",
        {"email": "ada@example.com", "phone": "+31612345678", "consent": consent},
    )
    facts = facts_from(parse_shop_event(orjson.dumps(raw)))
    [contact] = facts.contacts
    assert contact.ref == REF
    assert (contact.email, contact.phone) == ("ada@example.com", "+31612345678")
    assert contact.sms_consent is not None and contact.sms_consent.granted is False
    assert contact.email_consent is None
    assert facts.messages == []


def test_consent_changes_from_the_shop_and_from_feedback() -> None:
    raw = shop_event(
        "subscription.changed",
        {"channel": "email", "status": "subscribed", "source": "signup_form"},
    )
    [contact] = facts_from(parse_shop_event(orjson.dumps(raw))).contacts
    assert contact.email_consent is not None and contact.email_consent.granted is True
    withdrawn = {
        **shop_event("consent.withdrawn", {"channel": "sms", "source": "sms_keyword"}),
        "source": "/services/feedback",
    }
    [stop] = facts_from(parse_feedback_event(orjson.dumps(withdrawn))).contacts
    assert stop.sms_consent is not None and stop.sms_consent.granted is False


def test_a_category_choice_is_a_contact_fact_of_its_own() -> None:
    data = {"category": "offers", "subscribed": False, "source": "preference_center"}
    raw = {**shop_event("category.preference_changed", data), "source": "/services/feedback"}
    [contact] = facts_from(parse_feedback_event(orjson.dumps(raw))).contacts
    assert contact.ref == REF
    [(category, fact)] = contact.categories
    assert (category, fact.granted, fact.at) == (
        "offers",
        False,
        datetime(2026, 11, 23, 10, tzinfo=UTC),
    )
    assert contact.email_consent is None and contact.sms_consent is None


def test_a_sent_message_is_indexed_and_other_statuses_are_not() -> None:
    [message] = facts_from(parse_message_event(orjson.dumps(sent_status()))).messages
    assert message.ref == REF and message.channel is Channel.SMS
    assert message.provider_id == "SM123"
    assert message.sent_at == datetime(2026, 11, 23, 10, tzinfo=UTC)
    queued = {**sent_status(), "type": "message.queued", "data": {**sent_status()["data"]}}
    queued["data"]["status"] = "queued"
    assert not facts_from(parse_message_event(orjson.dumps(queued)))


def test_an_anonymous_visitor_says_nothing() -> None:
    raw = shop_event("customer.updated", {"email": "v@example.com"}, customer=None)
    assert not facts_from(parse_shop_event(orjson.dumps(raw)))


class Parking:
    """Records what would be parked (the producer's acknowledgement at once)."""

    def __init__(self) -> None:
        self.parked: list[tuple[str, bytes]] = []

    def delivery(self, topic: str, value: bytes, key: bytes | None) -> asyncio.Future[None]:
        self.parked.append((topic, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def record(topic: str, value: bytes, offset: int = 0) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, 0, offset, 0, 0, b"acme:c1", value, None, 0, len(value), ())


async def test_a_poll_is_stored_and_its_bad_records_parked_on_their_own_topics() -> None:
    directory, parking = MemoryDirectory(), Parking()
    indexer = Indexer(None, parking, directory)  # type: ignore[arg-type]
    customer = shop_event("customer.created", {"phone": "+31612345678"})
    await indexer.handle(
        [
            record(SHOP_EVENTS.name, orjson.dumps(customer), 0),
            record(SHOP_EVENTS.name, b"{not json", 1),
            record(MESSAGES_STATUS.name, orjson.dumps(sent_status()), 2),
            record(FEEDBACK_EVENTS.name, b'{"type": "nothing.known"}', 3),
        ]
    )
    assert [c.ref for c in await directory.contacts_by_phone("+31612345678")] == [REF]
    assert await directory.message_by_provider_id("SM123") is not None
    assert sorted(topic for topic, _ in parking.parked) == [
        "feedback.events.dlq.v1",
        "shop.events.dlq.v1",
    ]


async def test_known_types_it_learns_nothing_from_are_passed_over_unvalidated() -> None:
    directory, parking = MemoryDirectory(), Parking()
    indexer = Indexer(None, parking, directory)  # type: ignore[arg-type]
    viewed = shop_event("product.viewed", {"not": "a product"})
    unknown = shop_event("nothing.known", {})
    await indexer.handle(
        [
            record(SHOP_EVENTS.name, orjson.dumps(viewed), 0),
            record(SHOP_EVENTS.name, orjson.dumps(unknown), 1),
            record(MESSAGES_STATUS.name, orjson.dumps({**sent_status(), "type": "message.queued"})),
        ]
    )
    assert [topic for topic, _ in parking.parked] == ["shop.events.dlq.v1"]
    assert b"nothing.known" in parking.parked[0][1]  # the unknown type, not the view


def test_a_complaint_is_not_a_consent_statement() -> None:
    raw = {
        **shop_event("complaint.received", {"email": "ada@example.com"}),
        "source": "/services/feedback",
    }
    assert not facts_from(parse_feedback_event(orjson.dumps(raw)))


def trigger_fired(survey: str | None, context: dict[str, Any]) -> dict[str, Any]:
    return {
        **shop_event("trigger.fired", {}),
        "id": "t-9",
        "source": "/services/triggers",
        "data": {
            "campaign_id": "review_request",
            "journey_id": "order:o-1",
            "step_id": "survey",
            "step_index": 0,
            "transactional": False,
            "channels": ["sms"],
            "template_id": "review/request",
            "due_at": AT,
            "survey": survey,
            "context": context,
        },
    }


ORDER = {"order_id": "o-1", "items": [], "total": {"amount": "9.00", "currency": "EUR"}}


def test_a_step_that_asks_for_a_survey_is_a_survey_ask_about_its_order() -> None:
    raw = trigger_fired(
        "csat", {"order": ORDER, "shipment": {"order_id": "o-1", "shipment_id": "s"}}
    )
    [ask] = facts_from(parse_trigger_event(orjson.dumps(raw))).asks
    assert (ask.trigger_id, ask.ref, ask.survey, ask.order_id) == ("t-9", REF, "csat", "o-1")
    shipped_only = trigger_fired("nps", {"shipment": {"order_id": "o-7", "shipment_id": "s"}})
    [ask] = facts_from(parse_trigger_event(orjson.dumps(shipped_only))).asks
    assert ask.order_id == "o-7"  # no order in the context: the shipment's
    assert not facts_from(parse_trigger_event(orjson.dumps(trigger_fired(None, {}))))


def test_the_customers_locale_is_a_contact_fact() -> None:
    raw = shop_event("customer.updated", {"locale": "nl-NL"})
    [contact] = facts_from(parse_shop_event(orjson.dumps(raw))).contacts
    assert contact.locale == "nl-NL"


async def test_a_survey_ask_and_its_message_meet_in_either_order() -> None:
    directory, parking = MemoryDirectory(), Parking()
    indexer = Indexer(None, parking, directory)  # type: ignore[arg-type]
    sent = {**sent_status(), "data": {**sent_status()["data"], "trigger_id": "t-9"}}
    ask = trigger_fired("csat", {"order": ORDER})
    await indexer.handle([record(MESSAGES_STATUS.name, orjson.dumps(sent), 0)])
    message = await directory.message("m-1")
    assert message is not None and message.survey is None  # not known to have asked yet
    await indexer.handle(
        [
            record(TRIGGERS_FIRED.name, orjson.dumps(ask), 1),
            record(TRIGGERS_FIRED.name, b"{not json", 2),
        ]
    )
    message = await directory.message("m-1")
    assert message is not None and (message.survey, message.order_id) == ("csat", "o-1")
    assert [topic for topic, _ in parking.parked] == ["triggers.fired.dlq.v1"]
