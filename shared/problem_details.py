"""Error answers as RFC 9457 problem details: one document shape for every service's HTTP."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus

import orjson

MEDIA_TYPE = "application/problem+json"


def problem_body(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    errors: Sequence[tuple[str, str]] = (),
    extensions: Mapping[str, object] | None = None,
) -> bytes:
    """The JSON document; `errors` are (field path, reason) pairs, listed when there are any;
    `extensions` are extra members (RFC 9457, section 3.2), such as a readiness check's parts."""
    document: dict[str, object] = {
        **(extensions or {}),
        "type": "about:blank",
        "title": title or status_phrase(status),
        "status": status,
        "detail": detail,
    }
    if errors:
        document["errors"] = [{"field": field, "reason": reason} for field, reason in errors]
    return orjson.dumps(document)


def status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"
