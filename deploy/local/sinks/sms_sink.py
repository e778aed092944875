"""A local SMS provider that speaks Twilio's Messages API, for `make run` and the tests.

    python -m deploy.local.sinks.sms_sink --port 10088 --log .local/sms-sink.jsonl [--print]

Point dispatch at it with NUDGE_TWILIO_BASE_URL=http://127.0.0.1:10088 and the sink's
account (NUDGE_TWILIO_ACCOUNT_SID / NUDGE_TWILIO_AUTH_TOKEN, defaults below).

- `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`: form-encoded To, Body, From or
  MessagingServiceSid, StatusCallback; HTTP basic auth (AccountSid:AuthToken). Answers 201
  with a Twilio-shaped message, or Twilio's error shape `{code, message, more_info, status}`:
  401/20003 bad credentials, 400/21604 no To, 400/21211 To not E.164, 400/21602 no Body,
  400/21603 neither From nor MessagingServiceSid, 400/21617 Body over 1,600 characters,
  400/21610 To in the opted-out list (see /control).
- Status callbacks, as Twilio sends them: for a message created with a StatusCallback URL,
  a form POST of `sent`, then `delivered` (or `undelivered` / `failed` with its ErrorCode for
  numbers told so on /control), each signed with `X-Twilio-Signature` (the auth token, over
  the URL and the sorted parameters: shared/twilio_signature.py) and carrying MessageSid,
  SmsSid, MessageStatus, SmsStatus, AccountSid, From, To, ApiVersion, MessagingServiceSid
  when used, ErrorCode when failed. Like Twilio by default, a callback whose connection
  fails is tried once more, and an HTTP error answer is not retried.
- `GET /2010-04-01/Accounts/{AccountSid}/Messages.json?To=&From=&PageSize=`: Twilio's
  Messages list (newest first, one page), which dispatch reads to find an earlier attempt.
- Deduplicates on the `Idempotency-Key` header (which real Twilio does not have): a repeat
  answers the original message again and records nothing new (`duplicates` counts them).
  `{"idempotency": false}` on /control turns that off, to behave as Twilio does.
- `POST /control` JSON, every field optional, only given fields change:
  `{"fail_status": 503 | 429 | <any 4xx/5xx> | null, "fail_count": N | null (= until told
  otherwise), "retry_after_s": seconds sent as Retry-After with failures (default 1 for 429,
  none otherwise), "delay_ms": answer this much later (the message is recorded first, as a
  provider that accepted it but answered slowly), "opted_out": ["+1555...", ...],
  "idempotency": true | false, "callbacks": true | false (send status callbacks; default
  true), "callback_delay_ms": before each callback (default 50), "delivery_failures":
  {"+1555...": "30005", ...} (those numbers' messages end `undelivered` with that ErrorCode,
  or `failed` for a 21xxx code)}`.
  Answers the resulting state.
- `GET /messages`: `{"count", "duplicates", "messages": [...], "callbacks": [...]}` (each
  callback sent: sid, status, url, the answer's status or the connection error);
  `DELETE /messages` forgets everything (the log file is kept); `GET /healthz`.
- Any other path: 404/20404; another method on a known path: 405/20004 with `Allow`, both in
  Twilio's error shape. HEAD works wherever GET does.

Every accepted message is also appended to the `--log` file as one JSON line.

Served by `http_server.py` rather than aiohttp: the sink shares the cores with the system
under test, and aiohttp's machinery was most of its CPU per SMS.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import logging
import math
import os
import re
import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag

import httpx
import orjson

from deploy.local.sinks.common import JsonLinesLog
from deploy.local.sinks.http_server import Answer, Request, Response, run
from shared import twilio_signature
from shared.clock import date_header_now

DEFAULT_ACCOUNT_SID = "AC" + "0" * 32
DEFAULT_AUTH_TOKEN = "sms-sink-token"
IDEMPOTENCY_HEADER = "Idempotency-Key"
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
MAX_BODY_CHARS = 1600
MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/([^{}/]+)/Messages\.json$")
"""aiohttp's `{sid}` route pattern: any segment without braces."""
_IDEMPOTENCY_KEY = IDEMPOTENCY_HEADER.lower()  # as `Request.headers` names it
CALLBACK_TIMEOUT_S = 15.0
"""Twilio's default read timeout for a webhook."""
log = logging.getLogger(__name__)


def json_answer(data: Any, status: int = 200) -> Response:
    """orjson rather than the stdlib encoder: that was 5% of the sink's CPU."""
    return Response(status, orjson.dumps(data))


def twilio_error(status: int, code: int, message: str) -> Response:
    return json_answer(
        {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status=status,
    )


Route = Callable[[Request, str], Answer]


class SmsSink:
    """The sink's state; one instance per process (one event loop, one thread: no locks)."""

    def __init__(self, account_sid: str, auth_token: str, log: JsonLinesLog) -> None:
        self.account_sid = account_sid
        self._auth_token = auth_token
        self._credentials = f"{account_sid}:{auth_token}".encode()
        self.log = log
        self.messages: list[dict[str, Any]] = []
        self.responses_by_key: dict[str, dict[str, Any]] = {}
        self.duplicates = 0
        self.fail_status: int | None = None
        self.fail_count: int | None = None
        self.retry_after_s: float | None = None
        self.delay_ms = 0
        self.opted_out: set[str] = set()
        self.honour_idempotency = True
        self.echo = False
        self.send_callbacks = True
        self.callback_delay_ms = 50
        self.delivery_failures: dict[str, str] = {}
        self.callbacks: list[dict[str, Any]] = []
        self._reporting: set[asyncio.Task[None]] = set()
        self._client: httpx.AsyncClient | None = None
        self._routes: dict[str, dict[str, Route]] = {
            "/control": {"POST": self.control},
            "/messages": {"GET": self.list_messages, "DELETE": self.reset},
            "/healthz": {"GET": self.healthz},
        }
        self._messages_routes: dict[str, Route] = {
            "POST": self.create_message,
            "GET": self.read_messages,
        }

    def handle(self, request: Request) -> Answer:
        """Route by path, then method: unknown path 404, known path other method 405 with
        `Allow` (HEAD is GET without the body, as aiohttp's routes had it)."""
        sid = ""
        routes = self._routes.get(request.path)
        if routes is None:
            match = MESSAGES_PATH.match(request.path)
            if match is None:
                return twilio_error(404, 20404, "The requested resource was not found")
            routes, sid = self._messages_routes, match[1]
        method = request.method
        route = routes.get("GET" if method == "HEAD" else method)
        if route is None:
            allowed = sorted({*routes, *(["HEAD"] if "GET" in routes else [])})
            response = twilio_error(405, 20004, "Method not allowed")
            response.headers["Allow"] = ",".join(allowed)
            return response
        return route(request, sid)

    def create_message(self, request: Request, sid: str) -> Answer:
        """Recorded at once; with `delay_ms`, answered that much later."""
        response = self._answer(request, sid)
        if self.delay_ms:
            return self._later(response, self.delay_ms / 1000)
        return response

    @staticmethod
    async def _later(response: Response, delay_s: float) -> Response:
        await asyncio.sleep(delay_s)
        return response

    def _refused(self, request: Request, sid: str) -> Response | None:
        """An injected failure, bad credentials or another account: the answer, else None."""
        injected = self._injected_failure()
        if injected is not None:
            return injected
        if not self._authorised(request.headers.get("authorization", "")):
            response = twilio_error(401, 20003, "Authenticate")
            response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
            return response
        if sid != self.account_sid:
            return twilio_error(404, 20404, "The requested resource was not found")
        return None

    def read_messages(self, request: Request, sid: str) -> Response:
        """Twilio's Messages list: newest first, `To` / `From` filters, `PageSize` (max 1000);
        one page (`next_page_uri` stays null)."""
        refused = self._refused(request, sid)
        if refused is not None:
            return refused
        to, sender = request.query.get("To"), request.query.get("From")
        try:
            size = min(max(int(request.query.get("PageSize", "50")), 1), 1000)
        except ValueError:
            return twilio_error(400, 20001, "Invalid PageSize")
        found = [
            m["response"]
            for m in reversed(self.messages)
            if (to is None or m["to"] == to) and (sender is None or m["from"] == sender)
        ][:size]
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        return json_answer(
            {
                "messages": found,
                "page": 0,
                "page_size": size,
                "start": 0,
                "end": max(len(found) - 1, 0),
                "uri": f"{uri}?PageSize={size}",
                "first_page_uri": f"{uri}?PageSize={size}&Page=0",
                "next_page_uri": None,
                "previous_page_uri": None,
            }
        )

    def _answer(self, request: Request, sid: str) -> Response:
        refused = self._refused(request, sid)
        if refused is not None:
            return refused
        fields = request.form()
        invalid = self._invalid(fields)
        if invalid is not None:
            return invalid
        key = request.headers.get(_IDEMPOTENCY_KEY) if self.honour_idempotency else None
        if key is not None and key in self.responses_by_key:
            self.duplicates += 1
            return json_answer(self.responses_by_key[key], status=201)
        message = self._message(fields, key)
        self.messages.append(message)
        if key is not None:
            self.responses_by_key[key] = message["response"]
        self.log.write(message)
        if message["status_callback"] and self.send_callbacks:
            task = asyncio.get_running_loop().create_task(self._report(message))
            self._reporting.add(task)
            task.add_done_callback(self._reporting.discard)
        if self.echo:
            print(f"SMS {message['to']}: {message['body']}", flush=True)
        return json_answer(message["response"], status=201)

    def _injected_failure(self) -> Response | None:
        if self.fail_status is None:
            return None
        status = self.fail_status
        if self.fail_count is not None:
            self.fail_count -= 1
            if self.fail_count <= 0:
                self.fail_status, self.fail_count = None, None
        text = "Too Many Requests" if status == 429 else "Service unavailable (sink told to fail)"
        response = twilio_error(status, 20000 + status, text)
        retry_after = self.retry_after_s
        if retry_after is None and status == 429:
            retry_after = 1
        if retry_after is not None:
            response.headers["Retry-After"] = str(math.ceil(retry_after))
        return response

    def _authorised(self, header: str) -> bool:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return secrets.compare_digest(given, self._credentials)

    def _invalid(self, fields: dict[str, str]) -> Response | None:
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

    def _message(self, fields: dict[str, str], key: str | None) -> dict[str, Any]:
        sid = "SM" + secrets.token_hex(16)
        now = datetime.now(UTC)
        stamp = date_header_now(usegmt=True)
        service = fields.get("MessagingServiceSid")
        response = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": fields["Body"],
            "date_created": stamp,
            "date_sent": None,
            "date_updated": stamp,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": fields.get("From"),
            "messaging_service_sid": service,
            "num_media": "0",
            "price": None,
            "sid": sid,
            "status": "accepted" if service else "queued",
            "to": fields["To"],
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        return {
            "sid": sid,
            "received_at": now.isoformat(),
            "to": fields["To"],
            "from": fields.get("From"),
            "messaging_service_sid": service,
            "body": fields["Body"],
            "status_callback": fields.get("StatusCallback"),
            "idempotency_key": key,
            "response": response,
        }

    async def _report(self, message: dict[str, Any]) -> None:
        """The message's status callbacks, in order: `sent`, then how it ended."""
        code = self.delivery_failures.get(message["to"])
        final = (
            "delivered" if code is None else ("failed" if code.startswith("21") else "undelivered")
        )
        for status in ("sent", final):
            await asyncio.sleep(self.callback_delay_ms / 1000)
            await self._callback(message, status, code if status == final else None)

    async def _callback(self, message: dict[str, Any], status: str, code: str | None) -> None:
        url, _ = urldefrag(message["status_callback"])  # a fragment is never sent
        params = [
            ("AccountSid", self.account_sid),
            ("ApiVersion", "2010-04-01"),
            ("MessageSid", message["sid"]),
            ("MessageStatus", status),
            ("SmsSid", message["sid"]),
            ("SmsStatus", status),
            ("To", message["to"]),
        ]
        if message["from"]:
            params.append(("From", message["from"]))
        if message["messaging_service_sid"]:
            params.append(("MessagingServiceSid", message["messaging_service_sid"]))
        if code is not None:
            params.append(("ErrorCode", code))
        signature = twilio_signature.compute_signature(self._auth_token, url, params)
        headers = {twilio_signature.HEADER: signature}
        record: dict[str, Any] = {"sid": message["sid"], "status": status, "url": url}
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=CALLBACK_TIMEOUT_S)
        for attempt in (1, 2):  # Twilio's default: one retry, on connection failures only
            try:
                answer = await self._client.post(url, data=dict(params), headers=headers)
            except httpx.TransportError as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"
                if attempt == 2:
                    log.warning("status callback to %s failed: %r", url, exc)
                continue
            record.pop("error", None)
            record["answer"] = answer.status_code
            break
        self.callbacks.append(record)

    def control(self, request: Request, sid: str) -> Response:
        try:
            body = request.json()
        except ValueError:
            return json_answer({"error": "JSON object expected"}, status=400)
        if not isinstance(body, dict):
            return json_answer({"error": "JSON object expected"}, status=400)
        if "fail_status" in body:
            status = body["fail_status"]
            if status is not None and not (isinstance(status, int) and 400 <= status <= 599):
                return json_answer({"error": "fail_status: 4xx/5xx or null"}, status=400)
            self.fail_status = status
            self.fail_count = body.get("fail_count")
        if "retry_after_s" in body:
            self.retry_after_s = body["retry_after_s"]
        if "delay_ms" in body:
            self.delay_ms = max(0, int(body["delay_ms"] or 0))
        if "opted_out" in body:
            self.opted_out = {str(number) for number in body["opted_out"] or []}
        if "idempotency" in body:
            self.honour_idempotency = bool(body["idempotency"])
        if "callbacks" in body:
            self.send_callbacks = bool(body["callbacks"])
        if "callback_delay_ms" in body:
            self.callback_delay_ms = max(0, int(body["callback_delay_ms"] or 0))
        if "delivery_failures" in body:
            failures = body["delivery_failures"] or {}
            if not isinstance(failures, dict):
                return json_answer({"error": "delivery_failures: an object"}, status=400)
            self.delivery_failures = {str(k): str(v) for k, v in failures.items()}
        return json_answer(self._state())

    def _state(self) -> dict[str, Any]:
        return {
            "fail_status": self.fail_status,
            "fail_count": self.fail_count,
            "retry_after_s": self.retry_after_s,
            "delay_ms": self.delay_ms,
            "opted_out": sorted(self.opted_out),
            "idempotency": self.honour_idempotency,
            "callbacks": self.send_callbacks,
            "callback_delay_ms": self.callback_delay_ms,
            "delivery_failures": self.delivery_failures,
        }

    def list_messages(self, request: Request, sid: str) -> Response:
        return json_answer(
            {
                "count": len(self.messages),
                "duplicates": self.duplicates,
                "messages": self.messages,
                "callbacks": self.callbacks,
            }
        )

    def reset(self, request: Request, sid: str) -> Response:
        self.messages.clear()
        self.responses_by_key.clear()
        self.callbacks.clear()
        self.duplicates = 0
        return json_answer({"count": 0})

    def healthz(self, request: Request, sid: str) -> Response:
        return json_answer({"status": "ok"})


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
    parser.add_argument("--print", action="store_true", help="print each message on stdout")
    args = parser.parse_args(argv)
    log = JsonLinesLog(args.log)
    sink = SmsSink(args.account_sid, args.auth_token, log)
    sink.echo = args.print
    print(f"sms sink on http://{args.host}:{args.port} (account {args.account_sid})", flush=True)
    try:
        run(sink.handle, args.host, args.port)
    finally:
        log.close()


if __name__ == "__main__":
    main()
