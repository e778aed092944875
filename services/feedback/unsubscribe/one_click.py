"""RFC 8058's one-click body: `List-Unsubscribe=One-Click`, URL-encoded or as multipart.

Section 3.2: the mail receiver POSTs the pair from `List-Unsubscribe-Post` as the body,
SHOULD as multipart/form-data, MAY as application/x-www-form-urlencoded, with no cookies and
no authorisation (the URL is the credential). Gmail and Yahoo send the URL-encoded form. What
else the RFC's encodings allow is taken as the same request: a charset parameter, whitespace
around the pair (a trailing CRLF), another case of `One-Click`, and fields beside it.
"""

from __future__ import annotations

from services.feedback.unsubscribe.form_body import Fields, single
from shared.http import problems

FIELD = "List-Unsubscribe"
VALUE = "One-Click"


def check_one_click(fields: Fields) -> None:
    """Return when the form is RFC 8058's request; a 422 naming the field otherwise."""
    value = single(fields, FIELD)
    if value is None:
        raise problems.invalid(
            "not a one-click unsubscribe request",
            [problems.FieldError(FIELD, f"required: the body must be {FIELD}={VALUE}")],
        )
    if value.lower() != VALUE.lower():
        raise problems.invalid(
            "not a one-click unsubscribe request",
            [problems.FieldError(FIELD, f"must be {VALUE!r}, not {value[:40]!r}")],
        )
