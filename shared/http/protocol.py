"""uvicorn's httptools protocol with the guards it lacks against slow or greedy clients.

uvicorn bounds neither how long a connection may take to send a request's head (a client that
trickles header bytes, or sends nothing, holds its connection for ever: its keep-alive timer
is cancelled by any byte) nor how many connections it holds. This subclass, named by import
path in uvicorn's `http` option, adds a deadline for every request head (armed when the
connection opens and after each answer, disarmed when the head is complete), a cap on
connections, and gives uvicorn's own refusals the API's problem+json format. The body's
deadline is the app's (shared/http/body.py), once it knows the route wants the body.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from shared.http import problems
from shared.problem_details import MEDIA_TYPE

CLASS_PATH = "shared.http.protocol:GuardedHttpToolsProtocol"


class Limits:
    """Set once per process (`configure`) before the server starts accepting connections."""

    header_timeout_s: float = 5.0
    max_connections: int = 2048


def configure(*, header_timeout_s: float, max_connections: int) -> None:
    Limits.header_timeout_s = header_timeout_s
    Limits.max_connections = max_connections


def canned(problem: problems.Problem) -> bytes:
    """A whole HTTP/1.1 answer, for refusals made before any request reaches the app."""
    body = problem.body()
    head = (
        f"HTTP/1.1 {problem.status} {HTTPStatus(problem.status).phrase}\r\n"
        f"content-type: {MEDIA_TYPE}\r\n"
        f"content-length: {len(body)}\r\n"
        + "".join(
            f"{name}: {value}\r\n"
            for name, value in problem.headers.items()
            if name.lower() != "connection"
        )
        + "connection: close\r\n\r\n"
    )
    return head.encode("latin-1") + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    _head_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > Limits.max_connections:
            self._refuse(problems.unavailable("too many connections; retry later", 1))
            return
        self._arm_head_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_deadline()
        super().connection_lost(exc)

    def on_headers_complete(self) -> None:
        self._disarm_head_deadline()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self._arm_head_deadline()  # the next request's head, on this kept-alive connection

    def send_400_response(self, msg: str) -> None:
        self._refuse(problems.bad_request(f"not a valid HTTP/1.1 request: {msg}"))

    def _arm_head_deadline(self) -> None:
        self._disarm_head_deadline()
        self._head_deadline = self.loop.call_later(Limits.header_timeout_s, self._head_too_slow)

    def _disarm_head_deadline(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _head_too_slow(self) -> None:
        self._head_deadline = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered: its own deadlines apply
        self._refuse(
            problems.request_timeout(
                f"no complete request head within {Limits.header_timeout_s:g}s"
            )
        )

    def _refuse(self, problem: problems.Problem) -> None:
        if not self.transport.is_closing():
            self.transport.write(canned(problem))
            self.transport.close()
