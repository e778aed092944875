"""How `POST /email/sns` documents itself: SNS's body, as SNS sends it, and every answer."""

from __future__ import annotations

from typing import Any

from shared.http.openapi import ANY_ROUTE_ERRORS, Answers, problem

_STRING: dict[str, Any] = {"type": "string"}
_ENVELOPE: dict[str, Any] = {
    "type": "object",
    "description": "An SNS HTTP(S) delivery; further fields SNS sends are accepted",
    "required": [
        "Type",
        "MessageId",
        "TopicArn",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
    ],
    "properties": {
        "Type": {
            "type": "string",
            "enum": ["Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"],
        },
        "MessageId": _STRING,
        "TopicArn": {**_STRING, "description": "One of NUDGE_FEEDBACK_SNS_TOPIC_ARNS"},
        "Subject": _STRING,
        "Message": {
            **_STRING,
            "description": "For notifications, the SES notification as JSON text "
            "(notificationType or eventType Bounce, Complaint, Delivery)",
        },
        "Timestamp": {**_STRING, "format": "date-time"},
        "SignatureVersion": {"type": "string", "enum": ["1", "2"]},
        "Signature": {**_STRING, "description": "base64 RSA PKCS#1 v1.5, SHA-1 (1) or SHA-256 (2)"},
        "SigningCertURL": {
            **_STRING,
            "description": "https://sns.<region>.amazonaws.com/<name>.pem (nothing else is used)",
        },
        "SubscribeURL": _STRING,
        "Token": _STRING,
        "UnsubscribeURL": _STRING,
    },
}
SNS_BODY = {
    "required": True,
    "description": "SNS sends JSON labelled text/plain; application/json is taken as well",
    "content": {media: {"schema": _ENVELOPE} for media in ("text/plain", "application/json")},
}
_RESULT = {
    "application/json": {
        "schema": {
            "type": "object",
            "properties": {
                "status": {"enum": ["accepted", "ignored", "confirmed", "logged", "noted"]},
                "events": {"type": "integer"},
                "detail": {"type": "string"},
            },
        }
    }
}
SNS_ANSWERS: Answers = {
    **ANY_ROUTE_ERRORS,
    "200": {
        "description": "Taken: `accepted` (the events are on feedback.events.v1), `ignored` (a "
        "delivery notification, or no known contact), `confirmed` / `logged` (a subscription "
        "confirmation, confirmed or logged for an operator), `noted` (an unsubscribe "
        "confirmation)",
        "content": _RESULT,
    },
    "400": problem("The body is not JSON"),
    "403": problem(
        "Not provably from an allowed SNS topic: topic not allowed, certificate URL not SNS's, "
        "certificate not trusted, or signature not valid (the field says which)"
    ),
    "413": problem("Body too large"),
    "415": problem("Content-Type is neither text/plain nor JSON"),
    "422": problem("Not an SNS message or not an SES notification (errors name the field)"),
    "503": problem(
        "Kafka or the database did not answer in time, the signing certificate or the "
        "subscription URL could not be fetched now, or too many connections (Retry-After)"
    ),
}
