"""Reading the sinks' records as the customers' inboxes: dispatch's message id, duplicates
skipped, the one-click header, where links lead, and each address or number mapped back to
its simulated customer (and no one else)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from services.simulator.population import PHONE_CAPACITY, Mix, customer, fictional_phone
from services.simulator.received import (
    Recipients,
    from_sms,
    from_smtp,
    link_target,
    phone_slot,
    product_link,
    survey_link,
)
from shared.tracking_links import Click, Tracked, sign_click
from tests.support.dispatch_process import TEST_LINK_KEYS

SHOPS = ("sim-shopify", "sim-segment", "sim-native")
MESSAGE = str(uuid.UUID(int=7))
FEEDBACK = "http://127.0.0.1:8083"
AT = "2026-12-07T21:33:11.773253+00:00"


def tracked(target: str) -> str:
    click = Click(Tracked("sim-native", "7000070000002", MESSAGE), target)
    return f"{FEEDBACK}/c/{sign_click(TEST_LINK_KEYS, click)}"


PRODUCT = tracked("https://sim-native.example.com/products/espresso-cups")
HOME = tracked("https://sim-native.example.com")
SURVEY = tracked(f"{FEEDBACK}/s/k0.abc.def")
UNSUBSCRIBE = f"{FEEDBACK}/u/k0.ZGVtbw.mac"


def smtp_record(**changes: Any) -> dict[str, Any]:
    """A line as deploy/local/sinks/smtp_sink.py writes it (the fields read here)."""
    record: dict[str, Any] = {
        "subject": "How did we do?",
        "headers": [
            ["From", "Sim Native <hello@sim-native.example.com>"],
            ["To", "c2.s7.sim-native@sim.example.com"],
            ["Message-ID", f"<{MESSAGE}@sim-native.example.com>"],
            ["List-Unsubscribe", f"<{UNSUBSCRIBE}>"],
            ["List-Unsubscribe-Post", "List-Unsubscribe=One-Click"],
        ],
        "links": [HOME, SURVEY, UNSUBSCRIBE],
        "received_at": AT,
        "mail_from": "hello@sim-native.example.com",
        "rcpt_tos": ["c2.s7.sim-native@sim.example.com"],
        "message_id": f"<{MESSAGE}@sim-native.example.com>",
        "duplicate": False,
    }
    record.update(changes)
    return record


def sms_record(**changes: Any) -> dict[str, Any]:
    """A line as deploy/local/sinks/sms_sink.py writes it."""
    record: dict[str, Any] = {
        "sid": "SM" + "1" * 32,
        "received_at": AT,
        "to": "+12015550102",
        "from": "+15005550006",
        "messaging_service_sid": None,
        "body": f"Sim Native: your cart is waiting: {PRODUCT}. Reply STOP to opt out",
        "status": "queued",
        "status_callback": f"{FEEDBACK}/sms/status",
        "idempotency_key": MESSAGE,
        "duplicate": False,
    }
    record.update(changes)
    return record


def test_an_email_record_is_read_with_dispatchs_message_id_and_its_one_click_url() -> None:
    (mail,) = from_smtp(smtp_record())
    assert mail.channel == "email" and mail.message_id == MESSAGE
    assert mail.to == "c2.s7.sim-native@sim.example.com"
    assert mail.received_at == datetime(2026, 12, 7, 21, 33, 11, 773253, tzinfo=UTC)
    assert mail.links == (HOME, SURVEY, UNSUBSCRIBE)
    assert mail.one_click == UNSUBSCRIBE


def test_an_email_without_list_unsubscribe_post_offers_no_one_click() -> None:
    headers = [h for h in smtp_record()["headers"] if h[0] != "List-Unsubscribe-Post"]
    (mail,) = from_smtp(smtp_record(headers=headers))
    assert mail.one_click is None
    mailto = [["List-Unsubscribe", "<mailto:u@x.example>"], ["List-Unsubscribe-Post", "x"]]
    (mail,) = from_smtp(smtp_record(headers=mailto))
    assert mail.one_click is None


def test_copies_marked_duplicate_and_records_without_an_id_are_left_out() -> None:
    assert from_smtp(smtp_record(duplicate=True)) == []
    assert from_smtp(smtp_record(message_id=None)) == []
    assert from_sms(sms_record(duplicate=True)) is None
    assert from_sms(sms_record(idempotency_key=None)) is None
    two = from_smtp(smtp_record(rcpt_tos=["a@sim.example.com", "b@sim.example.com"]))
    assert [m.to for m in two] == ["a@sim.example.com", "b@sim.example.com"]


def test_a_text_is_read_with_its_idempotency_key_links_and_sender() -> None:
    text = from_sms(sms_record())
    assert text is not None
    assert (text.channel, text.message_id, text.to) == ("sms", MESSAGE, "+12015550102")
    assert text.links == (PRODUCT,)  # the sentence's full stop is not the link's
    assert text.sender == "+15005550006"


def test_where_links_lead_is_read_from_the_tracked_token() -> None:
    assert link_target(PRODUCT) == "https://sim-native.example.com/products/espresso-cups"
    assert link_target(UNSUBSCRIBE) == UNSUBSCRIBE
    assert link_target(f"{FEEDBACK}/c/not-a-token") == f"{FEEDBACK}/c/not-a-token"
    assert link_target(f"{FEEDBACK}/c/k0.!!!.x") == f"{FEEDBACK}/c/k0.!!!.x"
    assert survey_link((HOME, SURVEY, UNSUBSCRIBE)) == SURVEY
    assert survey_link((HOME, PRODUCT)) is None
    assert product_link((SURVEY, HOME, PRODUCT, UNSUBSCRIBE)) == PRODUCT
    assert product_link((SURVEY, HOME, UNSUBSCRIBE)) == HOME
    assert product_link((SURVEY, UNSUBSCRIBE)) is None


def test_every_fictional_number_maps_back_to_its_slot() -> None:
    slots = [*range(0, 42_000, 37), *range(PHONE_CAPACITY - 30_000, PHONE_CAPACITY, 211)]
    for slot in slots:
        phone = fictional_phone(slot)
        assert phone is not None and phone_slot(phone) == slot
    assert phone_slot("+12015550200") is None  # outside 555-01xx
    assert phone_slot("+31612345678") is None
    assert phone_slot("+61255510000") is None  # not a fictional block


def test_recipients_are_the_populations_customers_and_no_one_else() -> None:
    mix = Mix(phone_share=1.0)
    recipients = Recipients(7, SHOPS, 30, mix)
    for index in range(30):
        person = customer(7, SHOPS, index, mix)
        assert recipients.by_email(person.email) == person
        assert recipients.by_email(person.email.upper()) == person
        assert person.phone is not None and recipients.by_phone(person.phone) == person
    assert recipients.by_email("c30.s7.sim-native@sim.example.com") is None  # past the size
    assert recipients.by_email("c2.s8.sim-native@sim.example.com") is None  # another seed
    assert recipients.by_email("c2.s7.sim-shopify@sim.example.com") is None  # not its shop
    assert recipients.by_email("ada@example.com") is None
    assert recipients.by_phone(fictional_phone(30) or "") is None
    without_phones = Recipients(7, SHOPS, 30, Mix(phone_share=0.0))
    assert without_phones.by_phone(fictional_phone(3) or "") is None  # no one was given it
    (mail,) = from_smtp(smtp_record())
    assert recipients.of(mail) == customer(7, SHOPS, 2, mix)
