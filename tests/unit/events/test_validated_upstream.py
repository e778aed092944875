"""Parsing records of Nudge's own topics "as validated upstream".

The stream workers read records that their writer (ingest, the feedback service, the
segmenter) validated in full and stored normalised, so emails and phone numbers get a shape
check instead of email_validator's and phonenumbers' full checks. The structure and every other
rule are still checked, so a malformed record is refused with its reason and parked. The
difference is the point: an address or number the libraries refuse but that has the right
shape passes the upstream-validated path and is refused by the default one, which is what
ingest uses for input from outside.
"""

from __future__ import annotations

import json
from typing import Any

import phonenumbers
import pytest
from pydantic import ValidationError

from shared.events import (
    VALIDATED_UPSTREAM,
    dump_shop_event,
    parse_feedback_event,
    parse_feedback_event_validated_upstream,
    parse_segment_event,
    parse_segment_event_validated_upstream,
    parse_shop_event,
    parse_shop_event_validated_upstream,
)
from shared.events.catalog import SHOP_EVENT, CustomerCreatedEvent
from shared.stream_batch import InputRecord, handle_record
from tests.support.payloads import order_placed


def customer_created(**data: Any) -> dict[str, Any]:
    return {
        "id": "e1",
        "type": "customer.created",
        "time": "2026-01-01T00:00:00Z",
        "shopid": "acme",
        "source": "/shops/acme/api",
        "customerid": "c1",
        "data": data,
    }


def raw(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def refusal(parse: Any, record: bytes) -> list[tuple[tuple[int | str, ...], str]]:
    """Where and why `parse` refuses `record` (it must refuse it)."""
    with pytest.raises(ValidationError) as caught:
        parse(record)
    return [(e["loc"], e["msg"]) for e in caught.value.errors()]


def test_a_record_ingest_wrote_parses_the_same_on_both_paths() -> None:
    written = dump_shop_event(
        parse_shop_event(
            raw(
                customer_created(
                    email="Anna@Example.COM",
                    phone="+31 6 12345678",
                    time_zone="Europe/Amsterdam",
                    locale="nl-NL",
                )
            )
        )
    )
    event = parse_shop_event_validated_upstream(written)
    assert isinstance(event, CustomerCreatedEvent)
    assert (event.data.email, event.data.phone) == ("Anna@example.com", "+31612345678")
    assert event == parse_shop_event(written)


def test_a_record_ingest_would_refuse_passes_when_only_its_shape_is_checked() -> None:
    """Why the path is only for records of Nudge's own topics: these fail the libraries'
    checks (a domain without a dot, two dots in a row, a number no country issues), but have
    the shape of a normalised address or number."""
    for field, value in [
        ("email", "anna@example"),
        ("email", "anna@example..com"),
        ("phone", "+10000000000"),
    ]:
        record = raw(customer_created(**{field: value}))
        [(loc, _msg)] = refusal(parse_shop_event, record)
        assert loc[-1] == field
        event = parse_shop_event_validated_upstream(record)
        assert getattr(event.data, field) == value


@pytest.mark.parametrize(
    ("data", "field", "reason"),
    [
        ({"email": "anna.example.com"}, "email", "normalised address"),
        ({"email": "anna@@example.com"}, "email", "normalised address"),
        ({"email": "@example.com"}, "email", "normalised address"),
        ({"email": "anna@"}, "email", "normalised address"),
        ({"email": "anna smith@example.com"}, "email", "normalised address"),
        ({"email": "anna\u200b@example.com"}, "email", "normalised address"),  # zero-width space
        ({"email": "anna\x07@example.com"}, "email", "normalised address"),
        ({"email": "a" * 243 + "@example.com"}, "email", "normalised address"),  # 255 chars
        ({"email": 42}, "email", "valid string"),
        ({"phone": "0612345678"}, "phone", "E.164"),
        ({"phone": "+31 6 12345678"}, "phone", "E.164"),
        ({"phone": "+0612345678"}, "phone", "E.164"),
        ({"phone": "+3\u0661\u0666\u0661\u0662\u0663\u0664\u0665"}, "phone", "E.164"),
        ({"phone": "+12345"}, "phone", "E.164"),
        ({"phone": "+" + "1" * 20}, "phone", "E.164"),
        ({"phone": 31612345678}, "phone", "valid string"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "IANA zone name"),
        ({"locale": "Dutch"}, "locale", "pattern"),
        ({"first_name": ["Anna"]}, "first_name", "valid string"),
        ({"tags": "vip"}, "tags", "valid array"),
        ({"nickname": "Annie"}, "nickname", "Extra inputs"),
    ],
)
def test_a_malformed_record_is_still_refused_naming_its_field(
    data: dict[str, Any], field: str, reason: str
) -> None:
    [(loc, msg)] = refusal(parse_shop_event_validated_upstream, raw(customer_created(**data)))
    assert loc == ("customer.created", "data", field)
    assert reason in msg


def test_a_record_missing_its_structure_is_refused_naming_what_is_missing() -> None:
    event = {**order_placed("c1"), "shopid": "acme", "source": "/shops/acme/api"}
    del event["data"]["total"]
    assert refusal(parse_shop_event_validated_upstream, raw(event)) == [
        (("order.placed", "data", "total"), "Field required")
    ]
    assert (
        refusal(parse_shop_event_validated_upstream, raw({**event, "type": "order.lost"}))[0][0]
        == ()
    )
    assert refusal(parse_shop_event_validated_upstream, b"{not json")[0][1].startswith(
        "Invalid JSON"
    )


def test_every_number_phonenumbers_takes_keeps_its_shape() -> None:
    """The shape check never refuses what ingest accepted: every example number of every
    region, kind and non-geographic code, as the full check normalises it, passes; so do the
    shortest and longest numbers phonenumbers takes (6 and 19 digits, outside E.164's usual
    7 to 15)."""
    examples = [
        phonenumbers.example_number_for_type(region, kind)
        for region in phonenumbers.SUPPORTED_REGIONS
        for kind in range(12)
    ] + [
        phonenumbers.example_number_for_non_geo_entity(code)
        for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS
    ]
    texts = {
        phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
        for example in examples
        if example is not None and phonenumbers.is_valid_number(example)
    } | {"+431110", "+989601", "+8100371234567890123", "+6200180312345678901"}
    assert len(texts) > 1000
    for text in texts:
        full = parse_shop_event(raw(customer_created(phone=text))).data.phone  # type: ignore[union-attr]
        trusted = parse_shop_event_validated_upstream(raw(customer_created(phone=full)))
        assert trusted.data.phone == full  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "address",
    [
        "anna@example.com",
        "Anna.Smith+news@mail.example.co.uk",
        "josé@bücher.example",
        "用户@例子.广告",
        "x" * 64 + "@" + ".".join(["d" * 61] * 3) + ".com",  # 253 characters
    ],
)
def test_every_address_email_validator_takes_keeps_its_shape(address: str) -> None:
    normalised = parse_shop_event(raw(customer_created(email=address))).data.email  # type: ignore[union-attr]
    trusted = parse_shop_event_validated_upstream(raw(customer_created(email=normalised)))
    assert trusted.data.email == normalised  # type: ignore[union-attr]


def test_the_context_only_applies_where_it_is_given() -> None:
    record = raw(customer_created(email="anna@example"))
    SHOP_EVENT.validate_json(record, context=VALIDATED_UPSTREAM)
    for context in (None, {}, {"nudge.validated_upstream": False}, "validated"):
        with pytest.raises(ValidationError, match="email"):
            SHOP_EVENT.validate_json(record, context=context)


def feedback(event_type: str, **data: Any) -> bytes:
    return raw(
        {
            "id": "f1",
            "type": event_type,
            "time": "2026-01-01T00:00:00Z",
            "shopid": "acme",
            "source": "/services/feedback",
            "customerid": "c1",
            "data": data,
        }
    )


def test_feedback_records_get_the_same_shape_checks() -> None:
    bounced = feedback("email.bounced", email="anna@example", kind="hard")
    assert refusal(parse_feedback_event, bounced)[0][0] == ("email.bounced", "data", "email")
    assert parse_feedback_event_validated_upstream(bounced).data.email == "anna@example"  # type: ignore[union-attr]
    for record, field in [
        (feedback("email.bounced", email="anna.example.com", kind="hard"), "email"),
        (feedback("email.bounced", email="anna@example.com", kind="bounced"), "kind"),
        (feedback("sms.delivery_failed", phone="0612345678", permanent=True), "phone"),
        (feedback("sms.delivery_failed", phone="+31612345678"), "permanent"),
    ]:
        [(loc, _msg)] = refusal(parse_feedback_event_validated_upstream, record)
        assert loc[-1] == field


def test_segment_records_parse_as_before() -> None:
    record = raw(
        {
            "id": "s1",
            "type": "segment.entered",
            "time": "2026-01-01T00:00:00Z",
            "shopid": "acme",
            "source": "/services/segmenter",
            "customerid": "c1",
            "data": {"segment_id": "vip"},
        }
    )
    assert parse_segment_event_validated_upstream(record) == parse_segment_event(record)
    bad = record.replace(b'"vip"', b'"VIP!"')
    assert refusal(parse_segment_event_validated_upstream, bad)[0][0] == (
        "segment.entered",
        "data",
        "segment_id",
    )


def test_a_poison_record_on_an_own_topic_is_parked_with_its_reason() -> None:
    parked: list[str] = []
    events: list[object] = []
    processed = handle_record(
        InputRecord("shop.events.v1", 0, 7, b"acme:c1", raw(customer_created(phone="0612"))),
        commands_topic="triggers.commands",
        parsers={"shop.events.v1": parse_shop_event_validated_upstream},
        on_command=lambda _key, _value: None,
        on_event=lambda _key, event: events.append(event),
        park=parked.append,
    )
    assert (processed, events) == (False, [])
    assert parked == [
        "invalid record: customer.created.data.phone: "
        "Value error, phone must be in E.164 form, e.g. +14155550123"
    ]
