"""Reading request bodies safely: media type, size cap while streaming, JSON parse."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from starlette.requests import ClientDisconnect

from services.ingest import problems


def require_json(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise problems.unsupported_media(
            f"Content-Type must be application/json, not {media_type or 'missing'!r}"
        )


async def read_capped(request: Request, max_bytes: int) -> bytes:
    """The raw body, refusing more than `max_bytes` without reading it all into memory."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise problems.too_large(f"body is {declared} bytes; the limit is {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_bytes:
                raise problems.too_large(f"body exceeds the limit of {max_bytes} bytes")
            chunks.append(chunk)
    except ClientDisconnect:  # gave up waiting (overload): an answer, not a server error
        raise problems.bad_request("the client disconnected before sending the body") from None
    return b"".join(chunks)


def parse_json(raw: bytes) -> Any:
    if not raw:
        raise problems.bad_request("body is empty; a JSON document is required")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise problems.bad_request(f"body is not valid JSON: {exc}") from None


def json_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise problems.invalid(
            f"{what} must be a JSON object",
            [problems.FieldError("(body)", f"expected an object, got {type(value).__name__}")],
        )
    return value
