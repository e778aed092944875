"""A local SMTP server that records what dispatch sends, for `make run` and the tests.

    python -m deploy.local.sinks.smtp_sink --port 10025 --log .local/smtp-sink.jsonl \
        [--control-port 10026] [--auth USER:PASSWORD] [--tls-cert FILE --tls-key FILE] [--print]
        [--no-pipelining] [--latency-ms 40]

Built on aiosmtpd's threaded `Controller` and `SMTP` server with a handler (the hooks below).
Every message is recorded in memory and appended to `--log` as one JSON line: envelope sender
and recipients, Message-ID, Subject, whether the session was under TLS, every header (decoded,
and raw as it came over the wire, unfolded), the first lines of the text part and every web
link in it (what a test opens, as the reader would: a survey, an unsubscribe or a tracked
link).

Latency (`--latency-ms`, or `latency_ms` on /control): a relay far away. What the client
sends reaches the server that much later, so every round trip (EHLO, MAIL, RCPT, DATA and its
354, the end of the content, RSET, NOOP, QUIT) takes at least that long, and commands sent
together (PIPELINING) wait once, together, as over a real network. Done on the connection's
reading side (`SlowLinkSMTP`, asyncio's `data_received`) rather than by sleeping in each
handler hook: hooks run one command after another, so a pipelined MAIL, RCPT and DATA would
pay three round trips instead of one, and the 354 has no hook.

Duplicates: a message whose Message-ID was seen before is acknowledged with 250 like any
other, but counted as a duplicate (its JSON line says `"duplicate": true`), not as a new
message: that is what the recipient sees in Gmail, which hides repeated Message-IDs.

The sink offers PIPELINING (RFC 2920), as relays do; `--no-pipelining` hides it, to exercise
clients' one-command-at-a-time path. `--auth USER:PASSWORD` requires AUTH (PLAIN/LOGIN, allowed
without TLS: it is local); `--tls-cert/--tls-key` offer STARTTLS (off by default).

Control (only with `--control-port`), HTTP with JSON:
- `POST /control`, every field optional, only given fields change:
  `{"refuse_for_s": 60` (answer MAIL and DATA with a temporary error for that long; 0 or null
  ends it), `"refuse_code": 451, "delay_ms": 0` (answer DATA this much later, after
  recording), `"latency_ms": 0` (see above; at once, open connections too),
  `"reject": ["nobody@example.com"]` (answer RCPT with 550 for these),
  `"drop_connections": true` (close every open client connection, as a relay that restarts
  or times idle clients out)`}`.
- `GET /messages`: `{"count", "duplicates", "duplicate_ids": {message_id: n}, "copies_at":
  {message_id: [when each later copy arrived]}, "connections",
  "refused", "refused_by_sender": {envelope sender: n}, "messages": [...]}` (`refused`: MAIL
  and DATA commands answered with the outage's temporary error, which is how a test sees
  whether a client backs off or hammers a relay that is down); `DELETE /messages` forgets
  them; `GET /healthz`. `GET /messages?brief=1` gives only the envelope, Message-ID, size,
  TLS and arrival time of each message: the full record parses the message, too slow for
  thousands.
"""

from __future__ import annotations

import argparse
import asyncio
import email.policy
import re
import ssl
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from selectolax.lexbor import LexborHTMLParser

from deploy.local.sinks.common import JsonLinesLog, until_signalled

TEXT_LINES = 5
_WEB_LINK = re.compile(r"https?://[^\s<>\"]+")


class SlowLinkSMTP(SMTP):
    """aiosmtpd's `SMTP` behind a slow link: each chunk the client sends is handed on
    `latency()` seconds after it arrived, in order, so every answer leaves at least that long
    after what it answers (asyncio's `Protocol.data_received`, which aiosmtpd does not use
    for anything but feeding its reader)."""

    def __init__(self, handler: Any, *, latency: Callable[[], float], **options: Any) -> None:
        super().__init__(handler, **options)
        self._latency = latency
        self._in_transit: deque[tuple[float, bytes]] = deque()
        self._arrival: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        delay = self._latency()
        if delay <= 0 and not self._in_transit:
            super().data_received(data)
            return
        loop = asyncio.get_running_loop()
        self._in_transit.append((loop.time() + delay, data))
        if self._arrival is None:
            self._arrival = loop.call_at(self._in_transit[0][0], self._arrive)

    def _arrive(self) -> None:
        self._arrival = None
        loop = asyncio.get_running_loop()
        while self._in_transit and self._in_transit[0][0] <= loop.time():
            super().data_received(self._in_transit.popleft()[1])
        if self._in_transit:
            self._arrival = loop.call_at(self._in_transit[0][0], self._arrive)

    def connection_lost(self, error: Exception | None) -> None:
        if self._arrival is not None:
            self._arrival.cancel()
            self._arrival = None
        self._in_transit.clear()
        super().connection_lost(error)


class SlowLinkController(Controller):
    """aiosmtpd's threaded controller serving `SlowLinkSMTP` (`factory` is its documented
    place for a custom server)."""

    def __init__(self, handler: Any, *, latency: Callable[[], float], **options: Any) -> None:
        super().__init__(handler, **options)
        self._latency = latency

    def factory(self) -> SMTP:
        return SlowLinkSMTP(self.handler, latency=self._latency, **self.SMTP_kwargs)


class SmtpSink:
    """aiosmtpd handler plus the state the control port reads and changes.

    The handler runs in the Controller's thread, the control port in the main thread: every
    access to the shared state holds `_lock`.
    """

    def __init__(self, log: JsonLinesLog, *, echo: bool = False, pipelining: bool = True) -> None:
        self._lock = threading.Lock()
        self.log = log
        self.echo = echo
        self.pipelining = pipelining
        self.messages: list[Arrival] = []
        self.seen_ids: set[str] = set()
        self.duplicate_ids: dict[str, int] = {}
        self.copies_at: dict[str, list[str]] = {}
        """Message-ID -> when each later copy arrived (the first is the message's own)."""
        self.connections = 0
        self.refused = 0
        self.refused_by_sender: dict[str, int] = {}
        self.refuse_until = 0.0
        self.refuse_code = 451
        self.delay_ms = 0
        self.latency_ms = 0
        self.reject: set[str] = set()
        self._open: weakref.WeakSet[SMTP] = weakref.WeakSet()
        self._smtp_loop: asyncio.AbstractEventLoop | None = None

    # --- SMTP hooks (aiosmtpd calls handle_<VERB>) -------------------------------------------

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if self.pipelining:
            # aiosmtpd answers commands in the order it reads them, so pipelined ones (RFC
            # 2920) are served; it only does not say so.
            responses.insert(1, "250-PIPELINING")
        self._smtp_loop = asyncio.get_running_loop()
        with self._lock:
            self._open.add(server)
        if not getattr(session, "nudge_counted", False):  # EHLO again after STARTTLS: same
            session.nudge_counted = True  # type: ignore[attr-defined]
            with self._lock:
                self.connections += 1
        return responses

    async def handle_MAIL(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        refusal = self._refusal(address)
        if refusal is not None:
            return refusal
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        with self._lock:
            rejected = address.lower() in self.reject
        if rejected:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        refusal = self._refusal(envelope.mail_from or "")
        if refusal is not None:
            return refusal
        arrival = Arrival(
            raw=envelope.original_content or b"",
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            received_at=datetime.now(UTC).isoformat(),
            tls=_under_tls(server, session),
        )
        message_id = arrival.message_id
        with self._lock:
            duplicate = message_id is not None and message_id in self.seen_ids
            if duplicate and message_id is not None:
                self.duplicate_ids[message_id] = self.duplicate_ids.get(message_id, 0) + 1
                self.copies_at.setdefault(message_id, []).append(arrival.received_at)
            else:
                if message_id is not None:
                    self.seen_ids.add(message_id)
                self.messages.append(arrival)
            number = len(self.messages)
            delay_ms = self.delay_ms
        if self.log.enabled:
            self.log.write({**arrival.record(), "duplicate": duplicate})
        if self.echo and not duplicate:
            record = arrival.record()
            first = record["text_head"][0] if record["text_head"] else ""
            print(f"EMAIL {record['rcpt_tos']}: {record['subject']} | {first}", flush=True)
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        return f"250 2.0.0 OK queued as sink-{number}" + (" (duplicate)" if duplicate else "")

    def latency_s(self) -> float:
        """How late what a client sends reaches the server (read from aiosmtpd's thread)."""
        return self.latency_ms / 1000

    def _refusal(self, sender: str) -> str | None:
        with self._lock:
            if time.monotonic() < self.refuse_until:
                self.refused += 1
                self.refused_by_sender[sender] = self.refused_by_sender.get(sender, 0) + 1
                return f"{self.refuse_code} 4.3.2 Temporarily refusing mail (sink outage)"
        return None

    # --- control port ------------------------------------------------------------------------

    def control_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/control", self.control)
        app.router.add_get("/messages", self.list_messages)
        app.router.add_delete("/messages", self.reset)
        app.router.add_get("/healthz", self.healthz)
        return app

    async def control(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return web.json_response({"error": "JSON object expected"}, status=400)
        unknown = sorted(set(body) - _CONTROL_FIELDS)
        if unknown:
            known = ", ".join(sorted(_CONTROL_FIELDS))
            return _refused(f"{unknown[0]}: not a setting of this sink (known: {known})")
        for name in ("refuse_for_s", "delay_ms", "latency_ms"):
            value = body.get(name)
            if value is not None and not (_is_number(value) and value >= 0):
                return _refused(f"{name}: a number, 0 or more")
        code = body.get("refuse_code", 451)
        if not (_is_number(code) and code == int(code) and 400 <= code <= 599):
            return _refused("refuse_code: an SMTP code 400-599")
        reject = body.get("reject") or []
        if not isinstance(reject, list) or not all(isinstance(a, str) for a in reject):
            return _refused("reject: a list of addresses")
        with self._lock:
            if "refuse_for_s" in body:
                seconds = float(body["refuse_for_s"] or 0)
                self.refuse_until = time.monotonic() + seconds if seconds > 0 else 0.0
            if "refuse_code" in body:
                self.refuse_code = int(code)
            if "delay_ms" in body:
                self.delay_ms = int(body["delay_ms"] or 0)
            if "latency_ms" in body:
                self.latency_ms = int(body["latency_ms"] or 0)
            if "reject" in body:
                self.reject = {a.lower() for a in reject}
            if body.get("drop_connections") and self._smtp_loop is not None:
                for server in list(self._open):
                    if server.transport is not None:
                        self._smtp_loop.call_soon_threadsafe(server.transport.close)
            state = {
                "refusing_for_s": max(0.0, self.refuse_until - time.monotonic()),
                "refuse_code": self.refuse_code,
                "delay_ms": self.delay_ms,
                "latency_ms": self.latency_ms,
                "reject": sorted(self.reject),
            }
        return web.json_response(state)

    async def list_messages(self, request: web.Request) -> web.Response:
        with self._lock:
            arrivals = list(self.messages)
            snapshot: dict[str, Any] = {
                "count": len(arrivals),
                "duplicates": sum(self.duplicate_ids.values()),
                "duplicate_ids": dict(self.duplicate_ids),
                "copies_at": {k: list(v) for k, v in self.copies_at.items()},
                "connections": self.connections,
                "refused": self.refused,
                "refused_by_sender": dict(self.refused_by_sender),
            }
        brief = request.query.get("brief") not in (None, "", "0", "false")
        snapshot["messages"] = [a.brief() if brief else a.record() for a in arrivals]
        return web.json_response(snapshot)

    async def reset(self, request: web.Request) -> web.Response:
        with self._lock:
            self.messages.clear()
            self.seen_ids.clear()
            self.duplicate_ids.clear()
            self.copies_at.clear()
            self.connections = 0
            self.refused = 0
            self.refused_by_sender.clear()
        return web.json_response({"count": 0})

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})


_CONTROL_FIELDS = frozenset(
    {"refuse_for_s", "refuse_code", "delay_ms", "latency_ms", "reject", "drop_connections"}
)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _refused(why: str) -> web.Response:
    return web.json_response({"error": why}, status=400)


def _under_tls(server: SMTP, session: Session) -> bool:
    """Whether the session runs over TLS (after STARTTLS): the transport's SSL object."""
    transport = server.transport
    if transport is not None and transport.get_extra_info("ssl_object") is not None:
        return True
    return session.ssl is not None


@dataclass
class Arrival:
    """One message as received. Parsing it costs far more than receiving it, so that waits
    until someone reads the record (the log, `--print`, `GET /messages`); the Message-ID the
    duplicates are counted by is read straight from the header block."""

    raw: bytes
    mail_from: str
    rcpt_tos: list[str]
    received_at: str
    tls: bool = False
    message_id: str | None = field(init=False)
    _record: dict[str, Any] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.message_id = header_value(self.raw, b"message-id")

    def brief(self) -> dict[str, Any]:
        """The envelope, Message-ID and arrival time: cheap enough for thousands at once."""
        return {
            "received_at": self.received_at,
            "mail_from": self.mail_from,
            "rcpt_tos": self.rcpt_tos,
            "message_id": self.message_id,
            "size": len(self.raw),
            "tls": self.tls,
        }

    def record(self) -> dict[str, Any]:
        if self._record is None:
            self._record = {**describe(self.raw), **self.brief()}
        return self._record


def header_value(raw: bytes, name: bytes) -> str | None:
    """The first `name` header's value (unfolded), without parsing the message."""
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]  # CRLF or bare LF
    prefix = name.lower() + b":"
    lines = head.split(b"\n")
    for number, line in enumerate(lines):
        if line[: len(prefix)].lower() == prefix:
            value = line[len(prefix) :]
            for more in lines[number + 1 :]:
                if more[:1] not in (b" ", b"\t"):
                    break
                value += b" " + more.strip()
            return value.strip().decode("utf-8", errors="replace") or None
    return None


def describe(raw: bytes) -> dict[str, Any]:
    """What the record keeps of one message (headers raw too: encoded-words must show)."""
    parsed = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    text_head: list[str] = []
    links: list[str] = []
    body = parsed.get_body(preferencelist=("plain",))
    if isinstance(body, EmailMessage):
        text = str(body.get_content())
        text_head = text.splitlines()[:TEXT_LINES]
        found = (link.rstrip(".,;:!?)") for link in _WEB_LINK.findall(text))
        links = list(dict.fromkeys(found))  # a sentence's full stop is not the link's
    images: list[str] = []  # what a mail client showing the HTML part fetches (the pixel)
    html = parsed.get_body(preferencelist=("html",))
    if isinstance(html, EmailMessage):
        tree = LexborHTMLParser(str(html.get_content()))
        images = [node.attrs.get("src") or "" for node in tree.css("img[src]")]
    parts = [part.get_content_type() for part in parsed.walk() if not part.is_multipart()]
    return {
        "subject": str(parsed.get("Subject", "")),
        "content_type": parsed.get_content_type(),
        "parts": parts,
        "headers": [[name, str(value)] for name, value in parsed.items()],
        "raw_headers": [
            [name, "".join(str(value).splitlines())] for name, value in parsed.raw_items()
        ],
        "text_head": text_head,
        "links": links,
        "images": images,
        "size": len(raw),
    }


def _authenticator(user: str, password: str) -> Any:
    expected = LoginPassword(user.encode(), password.encode())

    def check(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data == expected
        return AuthResult(success=ok, handled=False)

    return check


async def serve(args: argparse.Namespace) -> None:
    log = JsonLinesLog(args.log)
    sink = SmtpSink(log, echo=args.print, pipelining=not args.no_pipelining)
    sink.latency_ms = args.latency_ms
    options: dict[str, Any] = {"enable_SMTPUTF8": True}
    if args.auth:
        user, _, password = args.auth.partition(":")
        options.update(
            authenticator=_authenticator(user, password),
            auth_required=True,
            auth_require_tls=False,
        )
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        options["tls_context"] = context
    controller = SlowLinkController(
        sink,
        latency=sink.latency_s,
        hostname=args.host,
        port=args.port,
        server_hostname="nudge-smtp-sink",
        **options,
    )
    controller.start()
    runner: web.AppRunner | None = None
    try:
        if args.control_port:
            runner = web.AppRunner(sink.control_app(), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, args.host, args.control_port).start()
        control = f", control on http://{args.host}:{args.control_port}" if runner else ""
        print(f"smtp sink on {args.host}:{args.port}{control}", flush=True)
        await until_signalled()
    finally:
        if runner is not None:
            await runner.cleanup()
        controller.stop()
        log.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local SMTP sink (aiosmtpd)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=10025)
    parser.add_argument("--log", type=Path, help="append every message as a JSON line here")
    parser.add_argument("--control-port", type=int, help="HTTP control and /messages")
    parser.add_argument("--auth", help="USER:PASSWORD required from clients")
    parser.add_argument("--tls-cert", type=Path, help="offer STARTTLS with this certificate")
    parser.add_argument("--tls-key", type=Path)
    parser.add_argument("--print", action="store_true", help="print each message on stdout")
    parser.add_argument(
        "--no-pipelining", action="store_true", help="do not offer PIPELINING (RFC 2920)"
    )
    parser.add_argument(
        "--latency-ms",
        type=int,
        default=0,
        help="what clients send reaches the server this much later (a distant relay)",
    )
    args = parser.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    if args.latency_ms < 0:
        parser.error("--latency-ms: 0 or more")
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
