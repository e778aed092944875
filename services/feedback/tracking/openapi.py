"""How `/c/<token>` and `/o/<token>.gif` document themselves: the token, every answer."""

from __future__ import annotations

from shared.http.openapi import ANY_ROUTE_ERRORS, PROBLEM_CONTENT, Answers

_HTML = {"text/html": {"schema": {"type": "string"}}}
CLICK_TOKEN = {
    "name": "token",
    "in": "path",
    "required": True,
    "description": "The signed click token from the message (`<kid>.<payload>.<mac>`): it "
    "carries the target; nothing else in the request (no `url` parameter) is read",
    "schema": {"type": "string", "maxLength": 4096},
}
OPEN_TOKEN = {
    "name": "token",
    "in": "path",
    "required": True,
    "description": "The signed open token from the email's pixel",
    "schema": {"type": "string", "maxLength": 1024},
}
CLICK_ANSWERS: Answers = {
    **ANY_ROUTE_ERRORS,
    "302": {
        "description": "To the signed target (the click is on feedback.events.v1, or counted "
        "as lost when the broker did not answer in time)",
        "headers": {"Location": {"schema": {"type": "string", "format": "uri"}}},
    },
    "400": {
        "description": "Not a click link of ours (unsigned, altered, another kind of token, a "
        "retired key) or a signed target that is not an absolute http(s) URL: never a "
        "redirect. A page for browsers (Accept: text/html), else a problem",
        "content": {**PROBLEM_CONTENT, **_HTML},
    },
}
OPEN_ANSWERS: Answers = {
    **ANY_ROUTE_ERRORS,
    "200": {
        "description": "A transparent 1x1 GIF, whatever the token (a broken image would show "
        "in the message); a valid token's open is on feedback.events.v1",
        "content": {"image/gif": {"schema": {"type": "string", "format": "binary"}}},
    },
}
