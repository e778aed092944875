"""Reading request bodies safely: media type, size cap and deadline while streaming, JSON parse.

JSON is parsed by msgspec, which keeps integers of any size exact (orjson turns integers beyond
64 bits into floats, so a large numeric id would lose its digits). PostgreSQL text cannot hold
NUL characters, so a body that contains one is looked at for where, and that field is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import msgspec
from fastapi import Request
from starlette.requests import ClientDisconnect

from shared.http import problems

_DECODER = msgspec.json.Decoder()
NUL_ESCAPE = b"\\u0000"
"""How JSON spells a NUL character: a body without these bytes holds none."""
NUL_REASON = "contains a NUL character (\\u0000), which Nudge does not accept"


def require_json(request: Request) -> None:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise problems.unsupported_media(
            f"Content-Type must be application/json, not {media_type or 'missing'!r}"
        )


class UnverifiedBodies:
    """Bounds the bytes held at once by bodies whose sender is not verified yet.

    Shopify's signature covers the body, so it must be read before its sender is known; these
    bodies share one budget, and a request that would exceed it is turned away (503) instead
    of letting unknown senders make the server hold unbounded memory.
    """

    def __init__(self, max_bytes: int, retry_after_s: int) -> None:
        self.max_bytes = max_bytes
        self.held = 0
        self._retry_after_s = retry_after_s

    @contextlib.contextmanager
    def hold(self) -> Iterator[BodyHold]:
        taken = BodyHold(self)
        try:
            yield taken
        finally:
            self.held -= taken.bytes

    def take(self, hold: BodyHold, size: int) -> None:
        if self.held + size > self.max_bytes:
            raise problems.unavailable(
                "too many unverified request bodies are being read; retry later",
                self._retry_after_s,
            )
        self.held += size
        hold.bytes += size


class BodyHold:
    """One request's share of an `UnverifiedBodies` budget, given back when it ends."""

    __slots__ = ("budget", "bytes")

    def __init__(self, budget: UnverifiedBodies) -> None:
        self.budget = budget
        self.bytes = 0


async def read_capped(
    request: Request, max_bytes: int, timeout_s: float, hold: BodyHold | None = None
) -> bytes:
    """The raw body, refusing more than `max_bytes` without reading it all into memory, and a
    body that has not fully arrived within `timeout_s` (a slow sender holds a connection)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise problems.too_large(f"body is {declared} bytes; the limit is {max_bytes}")
    chunks: list[bytes] = []
    try:
        async with asyncio.timeout(timeout_s):
            async for chunk in _chunks(request, max_bytes):
                if hold is not None:
                    hold.budget.take(hold, len(chunk))
                chunks.append(chunk)
    except TimeoutError:
        raise problems.request_timeout(
            f"the body did not arrive within {timeout_s:g}s; send it in one go"
        ) from None
    except ClientDisconnect:  # gave up waiting (overload): an answer, not a server error
        raise problems.bad_request("the client disconnected before sending the body") from None
    return b"".join(chunks)


async def _chunks(request: Request, max_bytes: int) -> AsyncIterator[bytes]:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise problems.too_large(f"body exceeds the limit of {max_bytes} bytes")
        yield chunk


def parse_json(raw: bytes) -> Any:
    if not raw:
        raise problems.bad_request("body is empty; a JSON document is required")
    try:
        return _DECODER.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:  # e.g. a number beyond double
        raise problems.bad_request(f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise problems.bad_request("body is not valid JSON: nested too deeply") from None


def json_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise problems.invalid(
            f"{what} must be a JSON object",
            [problems.FieldError("(body)", f"expected an object, got {type(value).__name__}")],
        )
    return value


def nul_field(value: Any, path: str = "") -> str | None:
    """The dotted path of the first key or text inside `value` that holds a NUL, else None.

    Walked only for bodies that contain `NUL_ESCAPE`, so ordinary requests pay nothing.
    """
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            if "\x00" in node:
                return where or "(body)"
        elif isinstance(node, dict):
            for key, child in reversed(node.items()):
                inner = f"{where}.{key}" if where else str(key)
                if "\x00" in key:
                    return inner.replace("\x00", "\\u0000")
                stack.append((child, inner))
        elif isinstance(node, list):
            stack.extend(
                (child, f"{where}.{index}" if where else str(index))
                for index, child in reversed(list(enumerate(node)))
            )
    return None


def refuse_nul(raw: bytes, value: Any, what: str) -> None:
    """A 422 naming the field when a whole-request body (a webhook, one call) holds a NUL."""
    if NUL_ESCAPE in raw and (field := nul_field(value)) is not None:
        raise problems.invalid(
            f"{what} holds a NUL character", [problems.FieldError(field, NUL_REASON)]
        )
