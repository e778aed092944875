"""A small HTTP/1.1 server for the sinks: asyncio Protocols, requests parsed by httptools.

Why not aiohttp's web framework: the SMS sink runs beside the system under test on the same
few cores, and aiohttp's request and response machinery (routing, `request.post()`, stream
readers, `finish_response`) was about 60% of the sink's CPU per SMS. Here a request is parsed
in C, handed to the handler as plain Python values, and answered in one `transport.write`;
`run` serves on uvloop where it is installed. The SMS sink went from about 160 to about 80 µs
of CPU per SMS (20,000 form POSTs over 32 keep-alive connections).

It does what a local provider stand-in needs and no more: keep-alive, pipelining (answers
strictly in request order), chunked request bodies, `Expect: 100-continue`, a body limit.
No TLS, no streamed or chunked answers, no protocol upgrades (an `Upgrade` request is
answered as an ordinary one, as RFC 9110 allows), no idle timeout.

A handler returns a `Response`, written at once (the fast path: no task), or an awaitable of
one (a deliberately slow answer), run in a task; either way answers leave in request order.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

import httptools
import orjson

from deploy.local.sinks.common import until_signalled
from shared.clock import date_header_now
from shared.http_headers import header_lines

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024
"""aiohttp's default `client_max_size`: a sink's requests are a few KB."""

MAX_QUEUED_ANSWERS = 64
"""Answers a connection may owe (slow ones, and those pipelined behind them) before it stops
reading: a client that pipelines without end must not grow the server without end."""

FORM = "application/x-www-form-urlencoded"

_HEX_DIGITS = "0123456789ABCDEFabcdef"
_HEX_PAIRS = {(a + b).encode(): bytes.fromhex(a + b) for a in _HEX_DIGITS for b in _HEX_DIGITS}
_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")


def _unquote(raw: bytes) -> str:
    """`unquote_to_bytes` then UTF-8 (bad bytes replaced), with a regex splitting out the
    escapes in C rather than a Python step per `%`; a malformed escape stays as it is."""
    if b"%" in raw:
        parts = _ESCAPE.split(raw)
        parts[1::2] = [_HEX_PAIRS[pair] for pair in parts[1::2]]
        raw = b"".join(parts)
    return raw.decode("utf-8", "replace")


def parse_form(body: bytes) -> dict[str, str]:
    """An application/x-www-form-urlencoded body: what `dict(parse_qsl(body.decode(),
    keep_blank_values=True))` gives for any UTF-8 body (the tests compare them), at less than
    half the cost: `parse_qsl` was a third of the SMS sink's Python time per message. Names
    and values are decoded in one pass, joined by "&" (unless an escaped "&" would blur them).
    A repeated name keeps its last value."""
    raw = body.rstrip().replace(b"+", b" ")
    pieces: list[bytes] = []
    for part in raw.split(b"&"):
        if part:
            name, _, value = part.partition(b"=")
            pieces += (name, value)
    if not pieces:
        return {}
    if b"%26" in raw:
        texts = [_unquote(piece) for piece in pieces]
    else:
        texts = _unquote(b"&".join(pieces)).split("&")
    return dict(zip(texts[::2], texts[1::2], strict=True))


@dataclass(slots=True)
class Request:
    method: str
    path: str
    """Percent-decoded (%2F too), without the query."""
    query: dict[str, str]
    """The first value of each name (blank values kept)."""
    headers: dict[str, str]
    """Names in lower case; a repeated header's values joined with ", "."""
    body: bytes
    version: str = "1.1"

    def form(self) -> dict[str, str]:
        """An application/x-www-form-urlencoded body as a dict (`parse_form`); empty for any
        other content type, as aiohttp's `request.post()` was."""
        kind = self.headers.get("content-type", "").partition(";")[0].strip().lower()
        if kind != FORM:
            return {}
        return parse_form(self.body)

    def json(self) -> Any:
        """The body as JSON; `ValueError` (orjson's JSONDecodeError) when it is not."""
        return orjson.loads(self.body)


@dataclass(slots=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    """Extra headers; Content-Length, Date and Connection are the server's."""


Answer = Response | Awaitable[Response]
Handler = Callable[[Request], Answer]

_STATUS_LINES = {
    status.value: f"HTTP/1.1 {status.value} {status.phrase}\r\n".encode() for status in HTTPStatus
}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def _status_line(status: int) -> bytes:
    line = _STATUS_LINES.get(status)
    if line is None:
        if not 100 <= status <= 999:
            raise ValueError(f"status {status}: three digits")
        line = f"HTTP/1.1 {status} \r\n".encode()  # no registered reason: an empty one is valid
    return line


def render(
    response: Response, *, head: bool = False, keep_alive: bool = True, version: str = "1.1"
) -> bytes:
    """The whole answer as bytes: status line, headers, body (none for HEAD, 1xx, 204, 304).
    `version` is the request's: an HTTP/1.0 client needs to be told a connection stays open."""
    status = response.status
    body = response.body
    content_type = response.content_type
    if "\r" in content_type or "\n" in content_type:
        raise ValueError(f"content type {content_type!r}: on one line")
    if status < 200 or status == 204:
        lines = ""  # RFC 9110 8.6: no Content-Length in these
        body = b""
    else:
        lines = f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        if head or status == 304:
            body = b""
    lines += f"Date: {date_header_now(usegmt=True)}\r\n"
    if response.headers:
        lines += header_lines(response.headers)
    if not keep_alive:
        lines += "Connection: close\r\n"
    elif version == "1.0":
        lines += "Connection: keep-alive\r\n"
    return _status_line(status) + lines.encode("latin-1") + b"\r\n" + body


def _plain(status: int, text: str) -> Response:
    return Response(status, text.encode(), "text/plain; charset=utf-8")


class _TooLarge(Exception):
    """Raised from a parser callback to stop parsing a body over the limit."""


class _Connection(asyncio.Protocol):
    """One client connection: requests in, answers out in the same order."""

    def __init__(self, server: HttpServer) -> None:
        self._server = server
        self._handler = server.handler
        self._max_body = server.max_body
        self._parser = httptools.HttpRequestParser(self)
        self._transport: asyncio.Transport | None = None
        self._reading = True  # not shut: still taking requests
        self._paused_writing = False
        self._reading_paused = False
        self._last: asyncio.Task[None] | None = None
        """The task writing the latest queued answer, while one is owed; later answers wait
        for it."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._url = b""
        self._headers: dict[str, str] = {}
        self._body: list[bytes] = []
        self._size = 0
        self._method = ""
        self._version = "1.1"

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport; not an asyncio.Transport instance on every loop (uvloop's).
        self._transport = cast(asyncio.Transport, transport)
        self._server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._reading = False
        self._server.connections.discard(self)
        for task in list(self._tasks):
            task.cancel()  # a slow answer nobody can receive any more

    def data_received(self, data: bytes) -> None:
        if not self._reading:
            return  # after a request that closes the connection: nothing more is read
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            # An Upgrade (or CONNECT) request, answered as an ordinary one: the connection
            # stays HTTP/1.1, so what follows it is parsed as the next request.
            self.data_received(data[upgrade.args[0] :])
        except httptools.HttpParserError as exc:
            if not self._reading:
                return  # bytes after a request that closes the connection: ignored
            cause = exc.__context__
            if isinstance(cause, _TooLarge):
                self._refuse(413, f"a request body over {self._max_body} bytes")
            elif isinstance(exc, httptools.HttpParserCallbackError):
                log.error("reading a request failed", exc_info=cause)  # a bug of ours
                self._refuse(500, "Internal Server Error")
            else:
                self._refuse(400, f"not an HTTP/1.1 request: {exc}")

    def pause_writing(self) -> None:
        self._paused_writing = True
        self._update_reading()

    def resume_writing(self) -> None:
        self._paused_writing = False
        self._update_reading()

    # httptools callbacks
    def on_message_begin(self) -> None:
        self._url = b""
        self._headers = {}
        self._body = []
        self._size = 0

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        key, text = name.decode("latin-1").lower(), value.decode("latin-1")
        earlier = self._headers.get(key)
        self._headers[key] = text if earlier is None else f"{earlier}, {text}"

    def on_headers_complete(self) -> None:
        parser = self._parser
        self._method = parser.get_method().decode("ascii")
        self._version = parser.get_http_version()
        headers = self._headers
        length = headers.get("content-length")
        if length is not None and int(length) > self._max_body:  # llhttp checked it is digits
            raise _TooLarge  # refused before the client sends the body (no 100 Continue)
        if self._version != "1.0" and headers.get("expect", "").lower() == "100-continue":
            if self._last is None:
                self._send(_CONTINUE, close=False)
            else:  # not before the answers still owed to earlier requests
                self._queue(_CONTINUE, head=False, keep_alive=True, version="1.1")

    def on_body(self, body: bytes) -> None:
        self._size += len(body)
        if self._size > self._max_body:
            raise _TooLarge  # a chunked body that grew past the limit
        self._body.append(body)

    def on_message_complete(self) -> None:
        keep_alive = self._parser.should_keep_alive()
        if not keep_alive:
            self._reading = False
        target = self._url
        if not target.startswith(b"/"):  # absolute-form (`http://host/path`) or `*`
            split = urlsplit(target.decode("latin-1"))
            target = (split.path or "/").encode("latin-1") + (
                b"?" + split.query.encode("latin-1") if split.query else b""
            )
        raw_path, _, raw_query = target.partition(b"?")
        query: dict[str, str] = {}
        if raw_query:
            for name, value in parse_qsl(
                raw_query.decode("utf-8", "replace"), keep_blank_values=True
            ):
                query.setdefault(name, value)
        request = Request(
            self._method,
            _unquote(raw_path),
            query,
            self._headers,
            b"".join(self._body),
            self._version,
        )
        head = self._method == "HEAD"
        version = self._version
        try:
            answer = self._handler(request)
            if isinstance(answer, Response) and self._last is None:
                # The fast path: nothing owed before it, so out at once, without a task.
                data = render(answer, head=head, keep_alive=keep_alive, version=version)
                self._send(data, close=not keep_alive)
                return
        except Exception:
            log.exception("%s %s failed", request.method, request.path)
            answer = _plain(500, "Internal Server Error")
            if self._last is None:
                data = render(answer, head=head, keep_alive=keep_alive, version=version)
                self._send(data, close=not keep_alive)
                return
        self._queue(answer, head=head, keep_alive=keep_alive, version=version)

    # answers
    def _queue(self, answer: Answer | bytes, *, head: bool, keep_alive: bool, version: str) -> None:
        """Answer once every earlier answer is out: in a task, after the previous one's.
        `bytes` is an interim answer (100 Continue), written as it is."""
        task = asyncio.get_running_loop().create_task(
            self._answer_later(answer, self._last, head, keep_alive, version)
        )
        self._last = task
        self._tasks.add(task)
        task.add_done_callback(self._answered)
        self._update_reading()

    async def _answer_later(
        self,
        answer: Answer | bytes,
        previous: asyncio.Task[None] | None,
        head: bool,
        keep_alive: bool,
        version: str,
    ) -> None:
        if isinstance(answer, bytes):
            data = answer
        else:
            try:
                response = answer if isinstance(answer, Response) else await answer
                data = render(response, head=head, keep_alive=keep_alive, version=version)
            except Exception:
                log.exception("a delayed answer failed")
                error = _plain(500, "Internal Server Error")
                data = render(error, head=head, keep_alive=keep_alive, version=version)
        if previous is not None:
            await previous  # it never fails; cancelled only when the connection is gone
        self._send(data, close=not keep_alive)

    def _answered(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if self._last is task:
            self._last = None
        self._update_reading()

    def _send(self, data: bytes, close: bool) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        if close:
            transport.close()  # once what was written has gone out

    def _refuse(self, status: int, why: str) -> None:
        """Answer a request that cannot be read (after those owed) and close the connection."""
        self._reading = False
        response = _plain(status, why)
        if self._last is None:
            self._send(render(response, keep_alive=False), close=True)
        else:
            self._queue(response, head=False, keep_alive=False, version="1.1")

    def _update_reading(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        pause = self._paused_writing or len(self._tasks) >= MAX_QUEUED_ANSWERS
        if pause and not self._reading_paused:
            self._reading_paused = True
            transport.pause_reading()
        elif not pause and self._reading_paused:
            self._reading_paused = False
            transport.resume_reading()

    def abort(self) -> None:
        """Close now, dropping answers still owed (the server is stopping)."""
        for task in list(self._tasks):
            task.cancel()
        transport = self._transport
        if transport is not None:
            if transport.get_write_buffer_size():
                transport.abort()  # a client that does not read must not hold the stop up
            else:
                transport.close()


class HttpServer:
    """Serves `handler` on one listening socket; `close()` does not wait for slow answers."""

    def __init__(self, handler: Handler, *, max_body: int = MAX_BODY_BYTES) -> None:
        self.handler = handler
        self.max_body = max_body
        self.connections: set[_Connection] = set()
        self._server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), host, port)

    @property
    def port(self) -> int:
        """The port listened on (the one the OS chose for port 0)."""
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        """Stop listening and close every connection. Answers already written still go out;
        answers still owed (a sink told to answer slowly) are dropped, so that stopping is
        prompt: aiohttp's `shutdown_timeout` was there for the same reason."""
        if self._server is None:
            return
        self._server.close()
        for connection in list(self.connections):
            connection.abort()
        await self._server.wait_closed()
        self._server = None


async def serve_until_signalled(handler: Handler, host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT, then close."""
    server = HttpServer(handler)
    await server.start(host, port)
    try:
        await until_signalled()
    finally:
        await server.close()


def run(handler: Handler, host: str, port: int) -> None:
    """`serve_until_signalled` on uvloop where it is installed (uvicorn[standard] brings it):
    with answers this cheap to make, the event loop is much of what is left, and uvloop's, in
    C, cost the SMS sink less CPU per request in most paired runs (a few per cent to a fifth).
    Elsewhere on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is missing on some platforms
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve_until_signalled(handler, host, port))
