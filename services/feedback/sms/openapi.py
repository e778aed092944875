"""How `/sms/inbound` and `/sms/status` document themselves: Twilio's forms, every answer."""

from __future__ import annotations

from typing import Any

from services.feedback.sms.webhook import FORM
from shared.http.openapi import ANY_ROUTE_ERRORS, Answers, header, problem

_STRING = {"type": "string"}
_SIGNATURE = header(
    "X-Twilio-Signature",
    "base64 HMAC-SHA1, with the account's auth token, of the URL Twilio was configured with "
    "(NUDGE_FEEDBACK_PUBLIC_URL + path + query) followed by every parameter sorted by name, "
    "as name + value",
    required=True,
)


def _form(description: str, required: list[str], fields: dict[str, str]) -> dict[str, Any]:
    return {
        "required": True,
        "description": description,
        "content": {
            FORM: {
                "schema": {
                    "type": "object",
                    "required": required,
                    "properties": {
                        name: {**_STRING, "description": text} for name, text in fields.items()
                    },
                    "additionalProperties": _STRING,
                }
            }
        },
    }


_INBOUND_BODY = _form(
    "Twilio's inbound message parameters; others Twilio adds are accepted (and signed).",
    ["MessageSid", "From"],
    {
        "MessageSid": "The message's sid (SM... or MM...); SmsSid is taken too",
        "AccountSid": "The account",
        "MessagingServiceSid": "The messaging service, when the number is in one",
        "From": "The customer's number (E.164)",
        "To": "The number texted: a shop's own sender number decides the shop",
        "Body": "The text, up to 1,600 characters (5,000 taken)",
        "NumMedia": "Media attached (MediaUrl0...)",
        "NumSegments": "Segments the text arrived in",
        "FromCountry": "Where the sender's number is from",
    },
)
_STATUS_BODY = _form(
    "Twilio's status callback parameters; others Twilio adds are accepted (and signed).",
    ["MessageSid", "MessageStatus"],
    {
        "MessageSid": "The sid Twilio gave the message dispatch sent; SmsSid is taken too",
        "MessageStatus": "accepted, scheduled, queued, sending, sent, delivered, read, "
        "undelivered, failed, canceled; SmsStatus is taken too",
        "ErrorCode": "Twilio's error code, for undelivered and failed",
        "To": "The recipient's number",
        "From": "The sender",
        "AccountSid": "The account",
    },
)
_COMMON: Answers = {
    **ANY_ROUTE_ERRORS,
    "400": problem("Not a URL-encoded form (a field without '=', bytes not UTF-8...)"),
    "403": problem("X-Twilio-Signature missing or not Twilio's for this URL and form"),
    "413": problem("Body too large"),
    "415": problem("Content-Type is not application/x-www-form-urlencoded"),
    "422": problem("A field Nudge reads is missing or not valid (errors name the field)"),
}
INBOUND_REQUEST: dict[str, Any] = {
    "requestBody": _INBOUND_BODY,
    "parameters": [_SIGNATURE],
    "responses": {
        **_COMMON,
        "200": {
            "description": "TwiML: the keyword's answer in a <Message>, or an empty <Response>; "
            "any event is on Kafka",
            "content": {"text/xml": {"schema": _STRING}},
        },
        "503": problem(
            "Kafka did not acknowledge in time, the directory cannot be read, too many "
            "connections or unverified bodies (Retry-After)"
        ),
    },
}
STATUS_REQUEST: dict[str, Any] = {
    "requestBody": _STATUS_BODY,
    "parameters": [_SIGNATURE],
    "responses": {
        **_COMMON,
        "204": {"description": "Taken: any record is on Kafka (or the status changes nothing)"},
        "503": problem(
            "The message is not in the index yet, Kafka did not acknowledge in time, the "
            "directory cannot be read, too many connections or unverified bodies (Retry-After)"
        ),
    },
}
