"""Error answers as RFC 9457 problem details, each naming the offending field."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from fastapi import Response


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str


@dataclass
class Problem(Exception):
    """An HTTP error answer; raised anywhere in a request and rendered by the app."""

    status: int
    title: str
    detail: str
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def response(self) -> Response:
        body: dict[str, object] = {
            "type": "about:blank",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = [{"field": e.field, "reason": e.reason} for e in self.errors]
        return Response(
            orjson.dumps(body),
            status_code=self.status,
            media_type="application/problem+json",
            headers=self.headers,
        )


def bad_request(detail: str) -> Problem:
    return Problem(400, "Bad Request", detail)


def unauthorized(detail: str) -> Problem:
    return Problem(
        401, "Unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="nudge"'}
    )


def too_large(detail: str) -> Problem:
    return Problem(413, "Content Too Large", detail)


def unsupported_media(detail: str) -> Problem:
    return Problem(415, "Unsupported Media Type", detail)


def invalid(detail: str, errors: list[FieldError]) -> Problem:
    return Problem(422, "Unprocessable Content", detail, errors)


def rate_limited(retry_after_s: int) -> Problem:
    return Problem(
        429,
        "Too Many Requests",
        "the shop's event rate limit is exceeded; retry later",
        headers={"Retry-After": str(retry_after_s)},
    )


def unavailable(detail: str, retry_after_s: int) -> Problem:
    return Problem(503, "Service Unavailable", detail, headers={"Retry-After": str(retry_after_s)})
