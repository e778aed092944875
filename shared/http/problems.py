"""Error answers as RFC 9457 problem details, each naming the offending field."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.problem_details import MEDIA_TYPE, problem_body, status_phrase

log = logging.getLogger(__name__)


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

    def body(self) -> bytes:
        errors = [(e.field, e.reason) for e in self.errors]
        return problem_body(self.status, self.detail, title=self.title, errors=errors)

    def response(self) -> Response:
        return Response(
            self.body(), status_code=self.status, media_type=MEDIA_TYPE, headers=self.headers
        )


def bad_request(detail: str) -> Problem:
    return Problem(400, "Bad Request", detail)


def unauthorized(detail: str) -> Problem:
    return Problem(
        401, "Unauthorized", detail, headers={"WWW-Authenticate": 'Bearer realm="nudge"'}
    )


def request_timeout(detail: str) -> Problem:
    """408; the connection is closed after the answer (its request's rest may still arrive)."""
    return Problem(408, "Request Timeout", detail, headers={"Connection": "close"})


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


def internal() -> Problem:
    """A failure of ours, not the request's: logged with its cause, never shown to the caller."""
    return Problem(500, "Internal Server Error", "the request could not be handled; it is logged")


def from_status(status: int, detail: str, headers: Mapping[str, str] | None = None) -> Problem:
    """Any other HTTP error (404, 405...) in the same format, titled by its status."""
    return Problem(status, status_phrase(status), detail, headers=dict(headers or {}))


def install(app: FastAPI) -> None:
    """Every error the framework itself answers (404, 405, a failure of ours) as a problem."""

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        detail = exc.detail if isinstance(exc.detail, str) else status_phrase(exc.status_code)
        return from_status(exc.status_code, detail, exc.headers).response()

    async def invalid_request(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            FieldError(".".join(str(p) for p in e["loc"]) or "(request)", str(e["msg"]))
            for e in exc.errors()
        ]
        return invalid("the request is not valid", errors).response()

    async def failure(request: Request, exc: Exception) -> Response:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return internal().response()

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(Exception, failure)
