"""How `/s/<token>` documents itself: the path parameter, the form, every answer.

Every answer of these routes is a page (text/html): a survey is for people. Only what the
server answers before a route runs (405, 408, a failure of ours) is problem+json.
"""

from __future__ import annotations

from typing import Any

from services.feedback.surveys.answers import COMMENT_FIELD, MAX_COMMENT_CHARS, SCORE_FIELD
from services.feedback.surveys.form_nonce import FORM_FIELD
from services.feedback.unsubscribe.form_body import MULTIPART, URLENCODED
from shared.http.openapi import ANY_ROUTE_ERRORS, PROBLEM_CONTENT, Answers

TOKEN = {
    "name": "token",
    "in": "path",
    "required": True,
    "description": "The signed survey invitation from the message (`<kid>.<payload>.<mac>`)",
    "schema": {"type": "string", "maxLength": 1024},
}
_HTML = {"text/html": {"schema": {"type": "string"}}}


def _page(description: str) -> dict[str, Any]:
    return {"description": description, "content": _HTML}


def _page_or_problem(description: str) -> dict[str, Any]:
    """A page from the route; problem+json when the server answers before it runs."""
    return {"description": description, "content": {**PROBLEM_CONTENT, **_HTML}}


_NOT_A_LINK = _page(
    "Not a survey link of ours (unknown, altered, another kind of link, or signed with a "
    "retired key): a page that says so, without detail"
)
_CLOSED = _page("A genuine invitation past its expiry: a page that says the survey has closed")
PAGE_ANSWERS: Answers = {
    **ANY_ROUTE_ERRORS,
    "200": _page("The survey (records nothing: link scanners follow GETs)"),
    "404": _NOT_A_LINK,
    "410": _CLOSED,
}
THANKS_ANSWERS: Answers = {
    **ANY_ROUTE_ERRORS,
    "200": _page("The thank-you page (records nothing)"),
    "404": _NOT_A_LINK,
}
FORM_BODY = {
    "required": True,
    "description": "The survey page's form",
    "content": {
        media: {
            "schema": {
                "type": "object",
                "required": [FORM_FIELD, SCORE_FIELD],
                "properties": {
                    FORM_FIELD: {"type": "string", "description": "The page's signed nonce"},
                    SCORE_FIELD: {
                        "type": "string",
                        "pattern": "^[0-9]{1,2}$",
                        "description": "CSAT: 1 to 5; NPS: 0 to 10 (the invitation says which)",
                    },
                    COMMENT_FIELD: {"type": "string", "maxLength": MAX_COMMENT_CHARS},
                },
            }
        }
        for media in (URLENCODED, MULTIPART)
    },
}
FORM_ANSWERS: Answers = {
    **ANY_ROUTE_ERRORS,
    "303": {
        "description": "Recorded (the answer is on feedback.events.v1): on to the thank-you "
        "page, `Location: /s/<token>/thanks`",
        "headers": {"Location": {"schema": {"type": "string"}}},
    },
    "400": _page_or_problem(
        "Not a form body (bad encoding, no multipart boundary, too many fields)"
    ),
    "403": _page(
        "Not a form this service showed for this link, a cross-site submission, or a page "
        "open too long (then the survey is shown again, with what was entered)"
    ),
    "404": _NOT_A_LINK,
    "410": _CLOSED,
    "413": _page("Body too large"),
    "415": _page("Content-Type is not a form encoding"),
    "422": _page(
        "The score is missing, not a whole number or off the survey's scale, or the comment "
        "is too long: the survey again, the errors naming the field"
    ),
    "503": _page_or_problem(
        "Kafka did not acknowledge in time (Retry-After): nothing is recorded yet"
    ),
}
