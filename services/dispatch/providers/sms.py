"""SMS providers: the interface dispatch sends through, and the Twilio adapter.

Adding a provider (Vonage, MessageBird, Sinch, a test double...): write a class with
`async send(to, body, *, idempotency_key, status_callback) -> SendResult` and
`async close()`; it satisfies `SmsProvider` structurally, no base class needed. Map its
answers onto the three outcomes of `providers.base`: `SendResult(provider_id=<its message
id>)`; `TransientSendError` for throttling, outages and timeouts (set `retry_after_s` from
its Retry-After, `maybe_sent` when the request may have been accepted); `PermanentSendError`
for everything the same request can never fix (set `opted_out` when it reports a STOP'ed
recipient). Pass `idempotency_key` in the provider's own idempotency mechanism when it has
one (then a retry after `maybe_sent` is safe); say in the class docstring when it has none.
Keep one pooled HTTP client per instance, created in `__init__`, closed in `close()`.

Idempotency and Twilio: Twilio's Messages API documents no idempotency key for creating a
message. (`I-Twilio-Idempotency-Token` is a header Twilio puts on the webhooks *it* sends;
its REST API does not read it.) We send the key as `Idempotency-Key` (the IETF httpapi draft
header): the local sink deduplicates on it; real Twilio ignores the unknown header, so a
repeated POST there creates, delivers and bills a second message. Exactly one send therefore
rests on dispatch: it records the attempt before the call, and before it sends a message
again whose earlier attempt may have reached the provider (a crash mid-call, a timeout) it
asks `find()`, which reads Twilio's Messages list for that recipient: a message with the same
body created since the first attempt is that attempt, and is recorded as sent instead.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

import orjson
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.dispatch.providers.base import (
    PermanentSendError,
    SendResult,
    TransientSendError,
)
from services.dispatch.providers.http_pool import ConnectError, HttpAnswer, HttpPool, form_encode

IDEMPOTENCY_HEADER = "Idempotency-Key"
"""Understood by the local SMS sink; ignored by Twilio (see module doc)."""
_FORM = "application/x-www-form-urlencoded"

TWILIO_UNSUBSCRIBED = 21610
"""Twilio: "Attempt to send to unsubscribed recipient" (the recipient replied STOP)."""

_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")


@runtime_checkable
class SmsProvider(Protocol):
    """What dispatch needs from any SMS provider (see the module doc to add one)."""

    async def send(
        self,
        to: str,
        body: str,
        *,
        idempotency_key: str,
        status_callback: str | None = None,
    ) -> SendResult:
        """Hand one message to the provider; raise Transient/PermanentSendError otherwise."""
        ...

    async def find(self, to: str, body: str, *, since: datetime) -> SendResult | None:
        """The message an earlier attempt created (same recipient and body, created at or
        after `since`), or None; raise TransientSendError when the provider cannot say.
        A provider that honours `idempotency_key` may simply return None."""
        ...

    async def close(self) -> None:
        """Release pooled connections."""
        ...


class TwilioSettings(BaseSettings):
    """Twilio's Messages API (or the local SMS sink, which speaks the same API)."""

    model_config = SettingsConfigDict(env_prefix="NUDGE_TWILIO_", extra="ignore")

    base_url: str = "https://api.twilio.com"
    account_sid: str
    auth_token: SecretStr
    from_number: str | None = None
    """A Twilio number (E.164) or alphanumeric sender id; or use a messaging service."""
    messaging_service_sid: str | None = None
    """MG...: Twilio picks the sender from the service's pool (and handles its opt-outs)."""
    timeout_s: float = Field(default=10.0, gt=0, le=120)
    """Longest wait for the whole request; connecting is capped at a third of it."""
    max_connections: int = Field(default=48, ge=1, le=1000)
    """Requests at once. Twilio refuses an account's requests past its concurrency limit
    (429, error 20429; about 100 by most accounts' experience), so keep the sum over the
    dispatch processes under it."""

    @field_validator("base_url")
    @classmethod
    def _origin(cls, value: str) -> str:
        url = urlsplit(value)
        extra = url.username is not None or url.query or url.fragment
        if url.scheme not in ("http", "https") or not url.hostname or extra:
            raise ValueError("NUDGE_TWILIO_BASE_URL: http(s)://host[:port][/path], nothing else")
        return value

    @model_validator(mode="after")
    def _one_sender(self) -> TwilioSettings:
        if (self.from_number is None) == (self.messaging_service_sid is None):
            raise ValueError(
                "set exactly one of NUDGE_TWILIO_FROM_NUMBER and NUDGE_TWILIO_MESSAGING_SERVICE_SID"
            )
        if not _SID.match(self.account_sid) or not self.account_sid.startswith("AC"):
            raise ValueError("NUDGE_TWILIO_ACCOUNT_SID must look like AC + 32 hex digits")
        return self


class TwilioSms:
    """Twilio's Messages API over one pool of keep-alive HTTP/1.1 connections (http_pool.py:
    dispatch sends thousands a second, and aiohttp's client cost twice its CPU per request;
    httpx about 3 ms with dozens in flight)."""

    def __init__(self, settings: TwilioSettings) -> None:
        self._settings = settings
        self._path = f"/2010-04-01/Accounts/{settings.account_sid}/Messages.json"
        credentials = f"{settings.account_sid}:{settings.auth_token.get_secret_value()}"
        self._http = HttpPool(
            settings.base_url,
            max_connections=settings.max_connections,
            timeout_s=settings.timeout_s,
            connect_timeout_s=settings.timeout_s / 3,
            headers={
                "Accept": "application/json",
                "User-Agent": "nudge-dispatch",
                "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode(),
            },
        )

    async def send(
        self,
        to: str,
        body: str,
        *,
        idempotency_key: str,
        status_callback: str | None = None,
    ) -> SendResult:
        form = {"To": to, "Body": body}
        if self._settings.messaging_service_sid is not None:
            form["MessagingServiceSid"] = self._settings.messaging_service_sid
        elif self._settings.from_number is not None:
            form["From"] = self._settings.from_number
        if status_callback is not None:
            form["StatusCallback"] = status_callback
        headers = {IDEMPOTENCY_HEADER: idempotency_key, "Content-Type": _FORM}
        answer = await self._request("POST", body=form_encode(form), headers=headers)
        return interpret_twilio_response(answer)

    async def _request(self, method: str, **options: Any) -> HttpAnswer:
        """One call to the Messages resource; no answer at all is a TransientSendError."""
        try:
            return await self._http.request(method, self._path, **options)
        except (OSError, TimeoutError) as exc:
            raise transport_failure(exc) from exc

    async def find(self, to: str, body: str, *, since: datetime) -> SendResult | None:
        """Read the newest messages to `to` (Twilio lists newest first) for one with this body
        created since `since` (a minute of clock skew allowed). Trial accounts prefix bodies,
        so the body only has to end the same."""
        answer = await self._request("GET", query={"To": to, "PageSize": str(FIND_PAGE_SIZE)})
        if answer.status != 200:  # whatever the reason, we cannot tell: never "not sent"
            _, message = _twilio_error(answer)
            raise TransientSendError(
                f"cannot read the Messages list: http {answer.status}: {message}",
                http_status=answer.status,
            )
        try:
            listed = orjson.loads(answer.body)["messages"]
        except (ValueError, KeyError, TypeError) as exc:
            raise TransientSendError("the Messages list is not Twilio's shape") from exc
        earliest = since - FIND_CLOCK_SKEW
        for message in listed:
            if not isinstance(message, dict) or message.get("to") != to:
                continue
            if not str(message.get("body") or "").endswith(body):
                continue
            created = _twilio_time(message.get("date_created"))
            if created is not None and created >= earliest:
                return SendResult(
                    provider_id=str(message["sid"]),
                    status=message.get("status"),
                    detail="found in the provider's Messages list",
                )
        return None

    async def close(self) -> None:
        await self._http.close()


FIND_PAGE_SIZE = 50
FIND_CLOCK_SKEW = timedelta(minutes=1)


def _twilio_time(value: object) -> datetime | None:
    """Twilio's resource times are RFC 2822 (`Mon, 23 Nov 2026 10:00:00 +0000`)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def transport_failure(exc: Exception) -> TransientSendError:
    """No answer. Until the connection exists nothing can have reached Twilio; after, maybe."""
    unsent = isinstance(exc, ConnectError)
    kind = "timeout" if isinstance(exc, TimeoutError) else "connection"
    return TransientSendError(
        f"{kind}: {type(exc).__name__} {str(exc)[:120]}".strip(), maybe_sent=not unsent
    )


def interpret_twilio_response(answer: HttpAnswer) -> SendResult:
    """2xx → the message SID; 429 / 5xx → transient; any other status → permanent."""
    status = answer.status
    if 200 <= status < 300:
        try:
            payload = orjson.loads(answer.body)
            sid = payload["sid"]
        except (ValueError, KeyError, TypeError) as exc:
            raise TransientSendError(
                f"http {status} without a message sid", http_status=status, maybe_sent=True
            ) from exc
        return SendResult(provider_id=str(sid), status=payload.get("status"))
    code, message = _twilio_error(answer)
    reason = f"http {status}" + (f" twilio {code}" if code is not None else "") + f": {message}"
    if status == 429 or status >= 500:
        raise TransientSendError(
            reason,
            code=code,
            http_status=status,
            retry_after_s=parse_retry_after(answer.headers.get("retry-after")),
        )
    raise PermanentSendError(
        reason, code=code, http_status=status, opted_out=code == TWILIO_UNSUBSCRIBED
    )


def _twilio_error(answer: HttpAnswer) -> tuple[int | None, str]:
    """Twilio's error body is `{code, message, more_info, status}`; proxies send anything."""
    try:
        payload = orjson.loads(answer.body)
    except ValueError:
        text = answer.body.decode("utf-8", errors="replace")
        return None, (text[:120] or answer.reason)
    if not isinstance(payload, dict):
        return None, answer.reason
    code = payload.get("code")
    message = str(payload.get("message") or answer.reason)[:200]
    return (code if isinstance(code, int) else None), message


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as delta-seconds or an HTTP date (RFC 9110); None when absent or garbled."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
