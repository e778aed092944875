"""The SES notification inside an SNS message, as the SES developer guide shows it."""

from __future__ import annotations

import json

import pytest

from services.feedback.bounces.ses import (
    BounceType,
    Kind,
    SesInvalid,
    message_id_local_part,
    parse_notification,
)
from tests.support.sns import bounce, complaint, delivery

# The guide's "bounce notification with a DSN", as published (headers included).
GUIDE_BOUNCE = """{
   "notificationType":"Bounce",
   "bounce":{
      "bounceType":"Permanent",
      "reportingMTA":"dns; email.example.com",
      "bouncedRecipients":[{"emailAddress":"jane@example.com","status":"5.1.1",
         "action":"failed","diagnosticCode":"smtp; 550 5.1.1 <jane@example.com>... User"}],
      "bounceSubType":"General",
      "timestamp":"2016-01-27T14:59:38.237Z",
      "feedbackId":"00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000",
      "remoteMtaIp":"127.0.2.0"
   },
   "mail":{
      "timestamp":"2016-01-27T14:59:38.237Z",
      "source":"john@example.com",
      "messageId":"00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
      "destination":["jane@example.com","mary@example.com","richard@example.com"],
      "headersTruncated":false,
      "headers":[{"name":"From","value":"\\"John Doe\\" <john@example.com>"},
                 {"name":"Message-ID","value":"custom-message-ID"}],
      "commonHeaders":{"from":["John Doe <john@example.com>"],"messageId":"custom-message-ID",
                       "subject":"Hello"}
   }
}"""


def test_the_guides_bounce_reads_with_its_recipient_diagnostic_and_ids() -> None:
    found = parse_notification(GUIDE_BOUNCE)
    assert found.kind is Kind.BOUNCE
    assert found.bounce_type is BounceType.PERMANENT
    assert [r.email for r in found.recipients] == ["jane@example.com"]
    assert found.recipients[0].diagnostic == (
        "General; 5.1.1; smtp; 550 5.1.1 <jane@example.com>... User"
    )
    assert found.happened_at is not None and found.happened_at.year == 2016
    assert found.message_ids == (
        "custom-message-ID",
        "00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000",
    )


def test_dispatchs_message_id_is_the_message_id_headers_local_part() -> None:
    found = parse_notification(json.dumps(bounce("a@example.com", message_id_header="<m-1@shop>")))
    assert found.message_ids[0] == "m-1"
    assert message_id_local_part("<abc@example.com>") == "abc"
    assert message_id_local_part("  ") is None


def test_complaints_deliveries_and_event_publishing_records() -> None:
    found = parse_notification(json.dumps(complaint("richard@example.com")))
    assert found.kind is Kind.COMPLAINT
    assert [r.email for r in found.recipients] == ["richard@example.com"]
    assert parse_notification(json.dumps(delivery("jane@example.com"))).kind is Kind.DELIVERY
    published = {**bounce("jane@example.com", bounce_type="Transient"), "eventType": "Bounce"}
    del published["notificationType"]
    found = parse_notification(json.dumps(published))
    assert found.kind is Kind.BOUNCE and found.bounce_type is BounceType.TRANSIENT
    other = parse_notification('{"eventType": "Open", "mail": {}}')
    assert other.kind is None and other.kind_name == "Open"


def test_what_is_wrong_is_named_under_message() -> None:
    cases = [
        ("not json", "Message"),
        ("[1, 2]", "Message"),
        ("{}", "Message"),
        ('{"notificationType": "Bounce"}', "Message"),
        (
            '{"notificationType": "Complaint", "complaint": {"complainedRecipients": []}}',
            "Message.complaint.complainedRecipients",
        ),
    ]
    broken = bounce("jane@example.com")
    broken["bounce"]["bouncedRecipients"][0]["emailAddress"] = "not an address"
    cases.append((json.dumps(broken), "Message.bounce.bouncedRecipients.0.emailAddress"))
    wrong_type = bounce("jane@example.com", bounce_type="Sometimes")
    cases.append((json.dumps(wrong_type), "Message.bounce.bounceType"))
    nul = bounce("jane@example.com", diagnostic="smtp; 550\u0000")
    cases.append((json.dumps(nul), "Message.bounce.bouncedRecipients.0.diagnosticCode"))
    for text, field in cases:
        with pytest.raises(SesInvalid) as invalid:
            parse_notification(text)
        assert invalid.value.errors[0][0] == field, text
