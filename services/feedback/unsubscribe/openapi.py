"""How `/u/<token>` documents itself: the path parameter, the bodies, every answer."""

from __future__ import annotations

from typing import Any

from services.feedback.unsubscribe.form_body import MULTIPART, URLENCODED
from services.feedback.unsubscribe.one_click import FIELD, VALUE
from services.feedback.unsubscribe.preference_form import (
    ACTION_FIELD,
    FORM_FIELD,
    SAVE,
    UNSUBSCRIBE,
)
from shared.http.openapi import ANY_ROUTE_ERRORS, PROBLEM_CONTENT, Answers, problem

TOKEN = {
    "name": "token",
    "in": "path",
    "required": True,
    "description": "The signed unsubscribe token from the message (`<kid>.<payload>.<mac>`)",
    "schema": {"type": "string", "maxLength": 1024},
}
_HTML = {"text/html": {"schema": {"type": "string"}}}


def _for_people(description: str) -> dict[str, Any]:
    """An error answered as a page to browsers (Accept: text/html), else as a problem."""
    return {"description": description, "content": {**PROBLEM_CONTENT, **_HTML}}


_NOT_A_LINK = "Not an unsubscribe link of ours: unknown, altered, or signed with a retired key"
ONE_CLICK_BODY = {
    "required": True,
    "description": f"RFC 8058: `{FIELD}={VALUE}`, as mailbox providers send it",
    "content": {
        media: {
            "schema": {
                "type": "object",
                "required": [FIELD],
                "properties": {FIELD: {"type": "string", "enum": [VALUE]}},
            }
        }
        for media in (URLENCODED, MULTIPART)
    },
}
ONE_CLICK_ANSWERS: Answers = {
    **ANY_ROUTE_ERRORS,
    "200": {
        "description": "Unsubscribed: the withdrawal is on feedback.events.v1",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "status": {"enum": ["unsubscribed"]},
                        "channel": {"enum": ["email", "sms"]},
                    },
                }
            }
        },
    },
    "400": problem("Not a form body (bad encoding, no multipart boundary, too many fields)"),
    "404": problem(_NOT_A_LINK),
    "413": problem("Body too large"),
    "415": problem("Content-Type is not a form encoding"),
    "422": problem(f"The body is not `{FIELD}={VALUE}` (errors name the field)"),
    "503": problem("Kafka did not acknowledge in time, or too many connections (Retry-After)"),
}
PAGE_ANSWERS: Answers = {
    **ANY_ROUTE_ERRORS,
    "200": {"description": "The preference page (changes nothing)", "content": _HTML},
    "404": _for_people(_NOT_A_LINK),
    "503": _for_people("The directory cannot be read now (Retry-After)"),
}
FORM_BODY = {
    "required": True,
    "description": "The preference page's forms",
    "content": {
        URLENCODED: {
            "schema": {
                "type": "object",
                "required": [FORM_FIELD, ACTION_FIELD],
                "properties": {
                    FORM_FIELD: {"type": "string", "description": "The page's signed nonce"},
                    ACTION_FIELD: {"enum": [UNSUBSCRIBE, SAVE]},
                    "email": {"enum": ["on"], "description": "Ticked: keep marketing email"},
                    "sms": {"enum": ["on"], "description": "Ticked: keep marketing SMS"},
                },
            }
        }
    },
}
FORM_ANSWERS: Answers = {
    **ANY_ROUTE_ERRORS,
    "200": {"description": "Saved: the changes are on feedback.events.v1", "content": _HTML},
    "400": _for_people("Not a form body"),
    "403": _for_people(
        "Not a form this service showed for this link, a cross-site submission, or a page "
        "open too long (then the page is shown again)"
    ),
    "404": _for_people(_NOT_A_LINK),
    "413": _for_people("Body too large"),
    "415": _for_people("Content-Type is not a form encoding"),
    "422": _for_people("A field holds what the page cannot have sent (errors name it)"),
    "503": _for_people("Kafka did not acknowledge in time (Retry-After)"),
}
