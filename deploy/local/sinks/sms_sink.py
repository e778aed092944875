"""A local SMS provider that speaks Twilio's Messages API, for `make run`, the tests and the bench.

    python -m deploy.local.sinks.sms_sink --port 10088 --log .local/sms-sink.jsonl [--print]
        [--api-key SK...:SECRET]... [--delay-ms 80] [--max-concurrency 100]

Point dispatch at it with NUDGE_TWILIO_BASE_URL=http://127.0.0.1:10088 and the sink's
account (NUDGE_TWILIO_ACCOUNT_SID / NUDGE_TWILIO_AUTH_TOKEN, defaults below). Served by
aiohttp's web framework: a development tool, whose fidelity to Twilio matters, not its CPU.

Twilio's API, under `/2010-04-01/Accounts/{AccountSid}/`:
- Authentication: HTTP basic auth with the account SID and auth token, or with an API key's
  SID (`SK...`) and secret (`--api-key`, repeatable), the account SID in the path either way.
  Otherwise 401/20003; another account's path 404/20404.
- `POST Messages.json`: form-encoded To, Body, From or MessagingServiceSid, StatusCallback.
  Answers 201 with the message resource, or Twilio's error shape `{code, message, more_info,
  status}`: 400/21604 no To, 400/21211 To not E.164, 400/21602 no Body, 400/21603 neither
  From nor MessagingServiceSid, 400/21617 Body over 1,600 characters, 400/21610 To in the
  opted-out list (see /control). No deduplication, as Twilio has none: every accepted POST is
  a new message. An `Idempotency-Key` header is recorded with the message, so that a test can
  count what a real provider would have delivered twice (`duplicates` on /messages).
- `GET Messages.json`: the Messages list, newest first, paged as Twilio pages it (`PageSize`,
  default 50, at most 1,000; `Page` with `PageToken`, as the `next_page_uri` and
  `previous_page_uri` it answers give them), filtered by `To`, `From`, `DateSent` (a day,
  `YYYY-MM-DD`, or a second, `YYYY-MM-DDTHH:MM:SSZ`), `DateSent<` (on or before) and
  `DateSent>` (on or after). A message has no `date_sent` until it is `sent`.
- `GET Messages/{MessageSid}.json`: one message.
- Status: `queued` (`accepted` through a messaging service) when created, `sent` and then
  `delivered` (or `undelivered` / `failed` with its ErrorCode, for numbers told so on
  /control), each `callback_delay_ms` after the previous one. For a message created with a
  StatusCallback URL each change is also a form POST to that URL, as Twilio sends them:
  signed with `X-Twilio-Signature` (the auth token, over the URL and the sorted parameters:
  shared/twilio_signature.py), carrying MessageSid, SmsSid, MessageStatus, SmsStatus,
  AccountSid, From, To, ApiVersion, MessagingServiceSid when used, ErrorCode when failed. A
  callback whose connection fails is tried once more; an HTTP error answer is not retried.
- Latency and Twilio's concurrency limit: with `delay_ms`, each API request is answered that
  much later (a message is recorded when its request arrives, as by a provider that accepted it
  but answered slowly); with `max_concurrency`, a request that arrives while that many are in
  progress is answered 429/20429 at once.

The sink's own pages:
- `POST /control` JSON, every field optional, only given fields change, anything else is
  refused naming the field: `{"fail_status": 503 | 429 | <any 4xx/5xx> | null, "fail_count":
  N | null (= until told otherwise), "retry_after_s": seconds sent as Retry-After with failures
  (default 1 for 429, none otherwise), "delay_ms": N, "max_concurrency": N | null,
  "opted_out": ["+1555...", ...], "callbacks": true | false (send status callbacks; default
  true), "callback_delay_ms": before each status change (default 50), "delivery_failures":
  {"+1555...": "30005", ...} (those numbers' messages end `undelivered` with that ErrorCode,
  or `failed` for a 21xxx code)}`. Answers the resulting state.
- `GET /messages`: `{"count", "duplicates", "too_many_requests", "messages": [...],
  "callbacks": [...]}`, oldest first: each message's fields, its idempotency key and whether
  an earlier message had the same one (`duplicate`); each callback sent (sid, status, url,
  the answer's status or the connection error). `DELETE /messages` forgets them (the log file
  is kept); `GET /healthz`.
- Any other path: 404/20404; another method on a known path: 405/20004 with `Allow`, both in
  Twilio's error shape. HEAD works wherever GET does.

Every accepted message is also appended to the `--log` file as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlencode

import aiohttp
from aiohttp import typedefs, web

from deploy.local.sinks.common import JsonLinesLog, until_signalled
from services.dispatch.templates.sms import measure
from shared import twilio_signature

DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_AUTH_TOKEN = "sms-sink-token"
IDEMPOTENCY_HEADER = "Idempotency-Key"
API_VERSION = "2010-04-01"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
API_KEY_SID = re.compile(r"^SK[0-9a-fA-F]{32}$")
MAX_BODY_CHARS = 1600
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
CALLBACK_TIMEOUT_S = 15.0
"""Twilio's default read timeout for a webhook."""
log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.Response]]


def twilio_error(status: int, code: int, message: str) -> web.Response:
    return web.json_response(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
    )


def rfc2822(moment: datetime | None) -> str | None:
    """Twilio's date format: `Thu, 30 Jul 2015 20:12:31 +0000`."""
    return None if moment is None else format_datetime(moment.replace(microsecond=0))


@dataclass
class Message:
    """One accepted message: what was asked, and the resource as Twilio would show it now."""

    sid: str
    account_sid: str
    to: str
    sender: str | None
    service: str | None
    body: str
    status_callback: str | None
    idempotency_key: str | None
    duplicate: bool
    created: datetime
    status: str
    sent: datetime | None = None
    updated: datetime | None = None
    error_code: str | None = None

    def resource(self) -> dict[str, Any]:
        segments = measure(self.body).segments
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": rfc2822(self.created),
            "date_sent": rfc2822(self.sent),
            "date_updated": rfc2822(self.updated or self.created),
            "direction": "outbound-api",
            "error_code": int(self.error_code) if self.error_code else None,
            "error_message": None,
            "from": self.sender,
            "messaging_service_sid": self.service,
            "num_media": "0",
            "num_segments": str(segments),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": self.to,
            "uri": f"{uri}.json",
        }

    def record(self) -> dict[str, Any]:
        """What /messages and the log file show."""
        return {
            "sid": self.sid,
            "received_at": self.created.isoformat(),
            "to": self.to,
            "from": self.sender,
            "messaging_service_sid": self.service,
            "body": self.body,
            "status": self.status,
            "status_callback": self.status_callback,
            "idempotency_key": self.idempotency_key,
            "duplicate": self.duplicate,
        }


class ControlError(ValueError):
    """A /control field with a value the sink cannot take; the message names the field."""


@dataclass
class SmsSink:
    """The sink's state and its aiohttp application (one event loop: no locks)."""

    account_sid: str = DEFAULT_ACCOUNT_SID
    auth_token: str = DEFAULT_AUTH_TOKEN
    log: JsonLinesLog = field(default_factory=lambda: JsonLinesLog(None))
    api_keys: dict[str, str] = field(default_factory=dict)
    """API key SID -> secret, accepted as basic-auth credentials for this account."""
    echo: bool = False
    delay_ms: int = 0
    max_concurrency: int | None = None
    fail_status: int | None = None
    fail_count: int | None = None
    retry_after_s: float | None = None
    opted_out: set[str] = field(default_factory=set)
    send_callbacks: bool = True
    callback_delay_ms: int = 50
    delivery_failures: dict[str, str] = field(default_factory=dict)
    messages: list[Message] = field(default_factory=list)
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    too_many_requests: int = 0
    """Requests refused with 20429 (over `max_concurrency`)."""
    _by_sid: dict[str, Message] = field(default_factory=dict)
    _keys: set[str] = field(default_factory=set)
    _in_flight: int = 0
    _lifecycles: set[asyncio.Task[None]] = field(default_factory=set)
    _client: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._twilio_errors])
        base = f"/{API_VERSION}/Accounts/{{account}}"
        app.router.add_post(f"{base}/Messages.json", self._api(self.create_message))
        app.router.add_get(f"{base}/Messages.json", self._api(self.list_page))
        app.router.add_get(f"{base}/Messages/{{sid}}.json", self._api(self.fetch_message))
        app.router.add_post("/control", self.control)
        app.router.add_get("/messages", self.list_messages)
        app.router.add_delete("/messages", self.reset)
        app.router.add_get("/healthz", self.healthz)
        app.on_cleanup.append(self._close)
        return app

    # --- Twilio's behaviour around every API request -----------------------------------------

    @web.middleware
    async def _twilio_errors(
        self, request: web.Request, handler: typedefs.Handler
    ) -> web.StreamResponse:
        """aiohttp's 404 and 405 in Twilio's error shape (405 keeps its `Allow`)."""
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return twilio_error(404, 20404, "The requested resource was not found")
        except web.HTTPMethodNotAllowed as refused:
            answer = twilio_error(405, 20004, "Method not allowed")
            answer.headers["Allow"] = refused.headers["Allow"]
            return answer

    def _api(self, handler: Handler) -> Handler:
        """Twilio's concurrency limit, injected failures, credentials, then `handler`; the
        answer after `delay_ms` (all but the concurrency refusal, which is immediate)."""

        async def api(request: web.Request) -> web.Response:
            if self.max_concurrency is not None and self._in_flight >= self.max_concurrency:
                self.too_many_requests += 1
                return twilio_error(429, 20429, "Too Many Requests")
            self._in_flight += 1
            try:
                answer = self._refused(request) or await handler(request)
                if self.delay_ms:
                    await asyncio.sleep(self.delay_ms / 1000)
                return answer
            finally:
                self._in_flight -= 1

        return api

    def _refused(self, request: web.Request) -> web.Response | None:
        injected = self._injected_failure()
        if injected is not None:
            return injected
        if not self._authorised(request.headers.get("Authorization", "")):
            answer = twilio_error(401, 20003, "Authenticate")
            answer.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
            return answer
        if request.match_info["account"] != self.account_sid:
            return twilio_error(404, 20404, "The requested resource was not found")
        return None

    def _injected_failure(self) -> web.Response | None:
        if self.fail_status is None:
            return None
        status = self.fail_status
        if self.fail_count is not None:
            self.fail_count -= 1
            if self.fail_count <= 0:
                self.fail_status, self.fail_count = None, None
        text = "Too Many Requests" if status == 429 else "Service unavailable (sink told to fail)"
        answer = twilio_error(status, 20000 + status, text)
        retry_after = self.retry_after_s
        if retry_after is None and status == 429:
            retry_after = 1
        if retry_after is not None:
            answer.headers["Retry-After"] = str(math.ceil(retry_after))
        return answer

    def _authorised(self, header: str) -> bool:
        """The account's SID and auth token, or one of its API keys and that key's secret."""
        try:
            given = aiohttp.BasicAuth.decode(header)
        except ValueError:
            return False
        if secrets.compare_digest(given.login, self.account_sid):
            return secrets.compare_digest(given.password, self.auth_token)
        secret = self.api_keys.get(given.login)
        return secret is not None and secrets.compare_digest(given.password, secret)

    # --- the Messages resource ---------------------------------------------------------------

    async def create_message(self, request: web.Request) -> web.Response:
        form = await request.post()
        fields = {name: value for name, value in form.items() if isinstance(value, str)}
        invalid = self._invalid(fields)
        if invalid is not None:
            return invalid
        key = request.headers.get(IDEMPOTENCY_HEADER)
        now = datetime.now(UTC)
        service = fields.get("MessagingServiceSid") or None
        message = Message(
            sid="SM" + secrets.token_hex(16),
            account_sid=self.account_sid,
            to=fields["To"],
            sender=fields.get("From") or None,
            service=service,
            body=fields["Body"],
            status_callback=fields.get("StatusCallback") or None,
            idempotency_key=key,
            duplicate=key is not None and key in self._keys,
            created=now,
            status="accepted" if service else "queued",
        )
        if key is not None:
            self._keys.add(key)
        self.messages.append(message)
        self._by_sid[message.sid] = message
        self.log.write(message.record())
        task = asyncio.get_running_loop().create_task(self._lifecycle(message))
        self._lifecycles.add(task)
        task.add_done_callback(self._lifecycles.discard)
        if self.echo:
            print(f"SMS {message.to}: {message.body}", flush=True)
        return web.json_response(message.resource(), status=201)

    def _invalid(self, fields: dict[str, str]) -> web.Response | None:
        to = fields.get("To", "")
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not E164.match(to):
            return twilio_error(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not fields.get("Body"):
            return twilio_error(400, 21602, "Message body is required.")
        if len(fields["Body"]) > MAX_BODY_CHARS:
            return twilio_error(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        if not fields.get("From") and not fields.get("MessagingServiceSid"):
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if to in self.opted_out:
            return twilio_error(400, 21610, "Attempt to send to unsubscribed recipient")
        return None

    async def fetch_message(self, request: web.Request) -> web.Response:
        message = self._by_sid.get(request.match_info["sid"])
        if message is None:
            return twilio_error(404, 20404, "The requested resource was not found")
        return web.json_response(message.resource())

    async def list_page(self, request: web.Request) -> web.Response:
        """One page of the Messages list, newest first, as Twilio pages it."""
        query = request.query
        try:
            size = _page_size(query.get("PageSize"))
            page = _page_number(query.get("Page"))
            filters = _date_filters(query)
        except ValueError as invalid:
            return twilio_error(400, 20001, str(invalid))
        to, sender = query.get("To"), query.get("From")
        found = [
            m
            for m in reversed(self.messages)
            if (to is None or m.to == to)
            and (sender is None or m.sender == sender)
            and all(f.matches(m.sent) for f in filters)
        ]
        start = _page_start(found, query.get("PageToken"), page, size)
        if start is None:
            return twilio_error(400, 20001, "Invalid PageToken")
        rows = found[start : start + size]
        kept = [(name, query[name]) for name in ("To", "From") if name in query]
        kept += [(n, query[n]) for n in ("DateSent", "DateSent<", "DateSent>") if n in query]
        path = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"

        def uri(number: int, token: str | None) -> str:
            params = [*kept, ("PageSize", str(size)), ("Page", str(number))]
            if token is not None:
                params.append(("PageToken", token))
            return f"{path}?{urlencode(params)}"

        more = start + size < len(found)
        return web.json_response(
            {
                "messages": [m.resource() for m in rows],
                "page": page,
                "page_size": size,
                "start": start,
                "end": start + max(len(rows) - 1, 0),
                "uri": uri(page, query.get("PageToken")),
                "first_page_uri": uri(0, None),
                "next_page_uri": uri(page + 1, f"PA{rows[-1].sid}") if rows and more else None,
                "previous_page_uri": (
                    uri(page - 1, f"PB{rows[0].sid}") if rows and start > 0 else None
                ),
            }
        )

    async def _lifecycle(self, message: Message) -> None:
        """`sent`, then how it ended, each after `callback_delay_ms`; a status callback for
        each when the message asked for them."""
        code = self.delivery_failures.get(message.to)
        final = (
            "delivered" if code is None else ("failed" if code.startswith("21") else "undelivered")
        )
        for status in ("sent", final):
            await asyncio.sleep(self.callback_delay_ms / 1000)
            now = datetime.now(UTC)
            message.status, message.updated = status, now
            if status == "sent":
                message.sent = now
            else:
                message.error_code = code
            if message.status_callback and self.send_callbacks:
                await self._callback(message, status, code if status == final else None)

    async def _callback(self, message: Message, status: str, code: str | None) -> None:
        assert message.status_callback is not None
        url, _ = urldefrag(message.status_callback)  # a fragment is never sent
        params = [
            ("AccountSid", self.account_sid),
            ("ApiVersion", API_VERSION),
            ("MessageSid", message.sid),
            ("MessageStatus", status),
            ("SmsSid", message.sid),
            ("SmsStatus", status),
            ("To", message.to),
        ]
        if message.sender:
            params.append(("From", message.sender))
        if message.service:
            params.append(("MessagingServiceSid", message.service))
        if code is not None:
            params.append(("ErrorCode", code))
        signature = twilio_signature.compute_signature(self.auth_token, url, params)
        headers = {twilio_signature.HEADER: signature}
        record: dict[str, Any] = {"sid": message.sid, "status": status, "url": url}
        if self._client is None:
            timeout = aiohttp.ClientTimeout(total=CALLBACK_TIMEOUT_S)
            self._client = aiohttp.ClientSession(timeout=timeout)
        for attempt in (1, 2):  # Twilio's default: one retry, on connection failures only
            try:
                async with self._client.post(url, data=params, headers=headers) as answer:
                    await answer.read()
            except (aiohttp.ClientConnectionError, TimeoutError) as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"
                if attempt == 2:
                    log.warning("status callback to %s failed: %r", url, exc)
                continue
            record.pop("error", None)
            record["answer"] = answer.status
            break
        self.callbacks.append(record)

    async def settled(self) -> None:
        """Wait until every message's status changes and callbacks are done (tests)."""
        while self._lifecycles:
            await asyncio.gather(*list(self._lifecycles))

    async def _close(self, app: web.Application) -> None:
        for task in list(self._lifecycles):
            task.cancel()
        if self._client is not None:
            await self._client.close()

    # --- the sink's own pages ----------------------------------------------------------------

    async def control(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return web.json_response({"error": "JSON object expected"}, status=400)
        try:
            self.apply(body)
        except ControlError as invalid:
            return web.json_response({"error": str(invalid)}, status=400)
        return web.json_response(self.state())

    def apply(self, body: dict[str, Any]) -> None:
        """Change what `body` names; nothing at all when a field is unknown or invalid."""
        unknown = sorted(set(body) - _CONTROL_FIELDS)
        if unknown:
            raise ControlError(f"{unknown[0]}: not a setting of this sink ({_CONTROL_HELP})")
        changes: dict[str, Any] = {}
        if "fail_status" in body:
            status = body["fail_status"]
            if status is not None and not (_is_int(status) and 400 <= status <= 599):
                raise ControlError("fail_status: an HTTP status 400-599, or null")
            changes["fail_status"] = status
            changes["fail_count"] = _optional_count("fail_count", body.get("fail_count"))
        if "retry_after_s" in body:
            value = body["retry_after_s"]
            if value is not None and not (_is_number(value) and value >= 0):
                raise ControlError("retry_after_s: seconds (0 or more), or null")
            changes["retry_after_s"] = value
        if "delay_ms" in body:
            changes["delay_ms"] = _count("delay_ms", body["delay_ms"] or 0)
        if "max_concurrency" in body:
            limit = _optional_count("max_concurrency", body["max_concurrency"])
            if limit == 0:
                raise ControlError("max_concurrency: at least 1, or null for no limit")
            changes["max_concurrency"] = limit
        if "opted_out" in body:
            numbers = body["opted_out"] or []
            if not isinstance(numbers, list) or not all(isinstance(n, str) for n in numbers):
                raise ControlError("opted_out: a list of phone numbers")
            changes["opted_out"] = set(numbers)
        if "callbacks" in body:
            if not isinstance(body["callbacks"], bool):
                raise ControlError("callbacks: true or false")
            changes["send_callbacks"] = body["callbacks"]
        if "callback_delay_ms" in body:
            changes["callback_delay_ms"] = _count("callback_delay_ms", body["callback_delay_ms"])
        if "delivery_failures" in body:
            failures = body["delivery_failures"] or {}
            if not isinstance(failures, dict) or not all(
                isinstance(code, str | int) for code in failures.values()
            ):
                raise ControlError("delivery_failures: an object of phone number -> error code")
            changes["delivery_failures"] = {str(k): str(v) for k, v in failures.items()}
        for name, value in changes.items():
            setattr(self, name, value)

    def state(self) -> dict[str, Any]:
        return {
            "fail_status": self.fail_status,
            "fail_count": self.fail_count,
            "retry_after_s": self.retry_after_s,
            "delay_ms": self.delay_ms,
            "max_concurrency": self.max_concurrency,
            "opted_out": sorted(self.opted_out),
            "callbacks": self.send_callbacks,
            "callback_delay_ms": self.callback_delay_ms,
            "delivery_failures": self.delivery_failures,
        }

    async def list_messages(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "count": len(self.messages),
                "duplicates": sum(m.duplicate for m in self.messages),
                "too_many_requests": self.too_many_requests,
                "messages": [m.record() for m in self.messages],
                "callbacks": self.callbacks,
            }
        )

    async def reset(self, request: web.Request) -> web.Response:
        self.messages.clear()
        self._by_sid.clear()
        self._keys.clear()
        self.callbacks.clear()
        self.too_many_requests = 0
        return web.json_response({"count": 0})

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})


_CONTROL_FIELDS = frozenset(
    {
        "fail_status",
        "fail_count",
        "retry_after_s",
        "delay_ms",
        "max_concurrency",
        "opted_out",
        "callbacks",
        "callback_delay_ms",
        "delivery_failures",
    }
)
_CONTROL_HELP = "known: " + ", ".join(sorted(_CONTROL_FIELDS))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _count(name: str, value: object) -> int:
    if not _is_int(value) or value < 0:  # type: ignore[operator]
        raise ControlError(f"{name}: a whole number, 0 or more")
    return value  # type: ignore[return-value]


def _optional_count(name: str, value: object) -> int | None:
    return None if value is None else _count(name, value)


def _page_size(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE_SIZE
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE_SIZE:
        raise ValueError(f"PageSize: a whole number from 1 to {MAX_PAGE_SIZE}, not {raw!r}")
    return int(raw)


def _page_number(raw: str | None) -> int:
    if raw is None:
        return 0
    if not raw.isdigit():
        raise ValueError(f"Page: a whole number from 0, not {raw!r}")
    return int(raw)


def _page_start(found: list[Message], token: str | None, page: int, size: int) -> int | None:
    """Where the page begins: after (`PA<sid>`) or before (`PB<sid>`) the message a token
    names, as Twilio's tokens work (a page stays put while newer messages arrive); without a
    token, at `page * size`. None for a token that names no message of the list."""
    if token is None:
        return page * size
    position = {m.sid: n for n, m in enumerate(found)}
    if token.startswith("PA") and token[2:] in position:
        return position[token[2:]] + 1
    if token.startswith("PB") and token[2:] in position:
        return max(0, position[token[2:]] - size)
    return None


@dataclass(frozen=True)
class DateFilter:
    """`DateSent` (that day, or that second), `DateSent<` (on or before), `DateSent>` (on or
    after); a message not sent yet matches none of them."""

    name: str
    moment: date | datetime

    def matches(self, sent: datetime | None) -> bool:
        if sent is None:
            return False
        when: date | datetime = (
            sent.replace(microsecond=0) if isinstance(self.moment, datetime) else sent.date()
        )
        if self.name == "DateSent<":
            return when <= self.moment
        if self.name == "DateSent>":
            return when >= self.moment
        return when == self.moment


def _date_filters(query: Mapping[str, str]) -> list[DateFilter]:
    return [
        DateFilter(name, _parse_when(name, query[name]))
        for name in ("DateSent", "DateSent<", "DateSent>")
        if name in query
    ]


def _parse_when(name: str, raw: str) -> date | datetime:
    try:
        if "T" in raw:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if moment.tzinfo is None:
                raise ValueError("no time zone")
            return moment.astimezone(UTC)
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{name}: YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ (GMT), not {raw!r}") from None


def _api_key(text: str) -> tuple[str, str]:
    sid, _, secret = text.partition(":")
    if not API_KEY_SID.match(sid) or not secret:
        raise argparse.ArgumentTypeError("SK followed by 32 hex digits, a colon, the secret")
    return sid, secret


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("a whole number, at least 1")
    return int(text)


def _not_negative(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError("a whole number, 0 or more")
    return int(text)


async def serve(sink: SmsSink, host: str, port: int) -> None:
    runner = web.AppRunner(sink.app(), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        print(f"sms sink on http://{host}:{port} (account {sink.account_sid})", flush=True)
        await until_signalled()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local SMS sink speaking Twilio's Messages API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=10088)
    parser.add_argument("--log", type=Path, help="append every message as a JSON line here")
    parser.add_argument(
        "--account-sid", default=os.environ.get("NUDGE_SMS_SINK_ACCOUNT_SID", DEFAULT_ACCOUNT_SID)
    )
    parser.add_argument(
        "--auth-token", default=os.environ.get("NUDGE_SMS_SINK_AUTH_TOKEN", DEFAULT_AUTH_TOKEN)
    )
    parser.add_argument(
        "--api-key",
        type=_api_key,
        action="append",
        default=[],
        metavar="SK...:SECRET",
        help="an API key of the account (repeatable)",
    )
    parser.add_argument(
        "--delay-ms", type=_not_negative, default=0, help="answer API requests this much later"
    )
    parser.add_argument(
        "--max-concurrency",
        type=_positive,
        help="refuse API requests past this many in progress (429, 20429), as Twilio does",
    )
    parser.add_argument("--print", action="store_true", help="print each message on stdout")
    args = parser.parse_args(argv)
    records = JsonLinesLog(args.log)
    sink = SmsSink(
        account_sid=args.account_sid,
        auth_token=args.auth_token,
        log=records,
        api_keys=dict(args.api_key),
        echo=args.print,
        delay_ms=args.delay_ms,
        max_concurrency=args.max_concurrency,
    )
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(serve(sink, args.host, args.port))
    finally:
        records.close()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where it is installed (uvicorn[standard] brings it): the sink shares the cores
    with what a benchmark measures, so the less CPU it takes per request the better."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is missing on some platforms
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    main()
