"""SMS providers: the interface dispatch sends through, and the Twilio adapter.

Adding a provider (Vonage, MessageBird, Sinch, a test double...): write a class with
`async send(to, body, *, idempotency_key, status_callback) -> SendResult`,
`async find(to, body, *, since, taken) -> SendResult | None` and `async close()`; it satisfies
`SmsProvider` structurally, no base class needed. Map its answers onto the outcomes of
`providers.base`: `SendResult(provider_id=<its message id>)`; `TransientSendError` for
throttling, outages and timeouts (set `retry_after_s` from its Retry-After, `maybe_sent` when
the request may have been accepted); `ProviderConfigError` when the provider cannot be reached
as configured (a redirect, a proxy wanting credentials, a refused certificate: the channel
pauses, the recipient is not blamed); `PermanentSendError` for everything the same request can
never fix (set `opted_out` when it reports a STOP'ed recipient). Pass `idempotency_key` in the
provider's own idempotency mechanism when it has one (then a retry after `maybe_sent` is safe);
say in the class docstring when it has none.

Idempotency and Twilio: Twilio's Messages API has no idempotency key for creating a message
(`I-Twilio-Idempotency-Token` is a header Twilio puts on the webhooks *it* sends; its REST API
does not read it), so a repeated POST creates, delivers and bills a second message. We still
send the key as `Idempotency-Key` (the IETF httpapi draft header), for the record only: the
local sink logs it per message and counts the messages sharing a key (what a real provider
would have delivered twice); it does not deduplicate on it, as Twilio does not. Exactly one
send therefore rests on dispatch: it records the attempt before the call, and before it sends
again a message whose earlier attempt may have reached the provider (a crash mid-call, a
timeout) it asks `find()`, which reads Twilio's Messages list for that recipient; a message
with exactly this body, created since the first attempt and not already matched to another
log row, is that attempt, and is recorded as sent instead.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import ssl
import urllib.request
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlencode, urlsplit

import aiohttp
import orjson
from aiohttp.abc import AbstractResolver
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from yarl import URL

from services.dispatch.providers.base import (
    PermanentSendError,
    ProviderConfigError,
    SendResult,
    TransientSendError,
)

_FORM = "application/x-www-form-urlencoded"
IDEMPOTENCY_HEADER = "Idempotency-Key"
"""Recorded by the local SMS sink; ignored by Twilio (see module doc)."""

TWILIO_UNSUBSCRIBED = 21610
"""Twilio: "Attempt to send to unsubscribed recipient" (the recipient replied STOP)."""

TRIAL_PREFIX = "Sent from your Twilio trial account - "
"""What Twilio puts before every body a trial account sends."""

FIND_PAGE_SIZE = 100
FIND_MAX_PAGES = 20
"""Past this many pages of one recipient's messages `find` says "cannot tell", not "not sent"."""
FIND_CLOCK_SKEW = timedelta(minutes=1)

MAX_ANSWER_BYTES = 4 * 1024 * 1024
"""A page of 100 messages is well under 1 MB; more is a broken or hostile server."""

_SID_HEX = 32


def _sid(value: str, prefix: str) -> bool:
    tail = value[2:]
    return (
        value.startswith(prefix)
        and len(tail) == _SID_HEX
        and all(c in "0123456789abcdefABCDEF" for c in tail)
    )


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
        """Hand one message to the provider; raise a SendError otherwise."""
        ...

    async def find(
        self, to: str, body: str, *, since: datetime, taken: Collection[str] = ()
    ) -> SendResult | None:
        """The message an earlier attempt created: to `to`, with this body, created at or after
        `since` (less a minute of clock skew), whose provider id is not in `taken` (the ids
        already matched to other log rows), or None; raise TransientSendError when the provider
        cannot say. A provider that honours `idempotency_key` may simply return None."""
        ...

    async def close(self) -> None:
        """Release pooled connections."""
        ...


class TwilioSettings(BaseSettings):
    """Twilio's Messages API (or the local SMS sink, which speaks the same API)."""

    model_config = SettingsConfigDict(env_prefix="NUDGE_TWILIO_", extra="ignore")

    base_url: str = "https://api.twilio.com"
    """https:// always, except to a loopback host (the local sink)."""
    account_sid: str
    """AC...: the account whose Messages resource is used, in every request's path."""
    auth_token: SecretStr | None = None
    """The account's auth token; or use an API key (api_key_sid and api_key_secret)."""
    api_key_sid: str | None = None
    """SK...: an API key of the account (revocable on its own, unlike the auth token)."""
    api_key_secret: SecretStr | None = None
    from_number: str | None = None
    """A Twilio number (E.164) or alphanumeric sender id; or use a messaging service."""
    messaging_service_sid: str | None = None
    """MG...: Twilio picks the sender from the service's pool (and handles its opt-outs)."""
    ca_file: Path | None = None
    """A PEM bundle trusted instead of the system's CAs (a private CA, a TLS-inspecting proxy)."""
    proxy_url: SecretStr | None = None
    """http://[user:password@]host:port of an HTTP proxy; wins over HTTPS_PROXY / NO_PROXY."""
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
            raise ValueError("NUDGE_TWILIO_BASE_URL: https://host[:port][/path], nothing else")
        if url.scheme == "http" and not _loopback(url.hostname):
            raise ValueError(
                f"NUDGE_TWILIO_BASE_URL: http:// to {url.hostname} would send the credentials"
                " in cleartext; use https://, or http:// only to a loopback host"
                " (127.0.0.0/8, ::1, localhost)"
            )
        return value

    @field_validator("proxy_url")
    @classmethod
    def _proxy(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None:
            return None
        url = urlsplit(value.get_secret_value())
        if url.scheme != "http" or not url.hostname or url.path not in ("", "/") or url.query:
            raise ValueError("NUDGE_TWILIO_PROXY_URL: http://[user:password@]host:port")
        return value

    @field_validator("ca_file")
    @classmethod
    def _ca(cls, value: Path | None) -> Path | None:
        if value is None:
            return None
        try:
            ssl.create_default_context(cafile=value)
        except (OSError, ssl.SSLError) as exc:
            raise ValueError(
                f"NUDGE_TWILIO_CA_FILE: {value} is not a readable PEM bundle: {exc}"
            ) from exc
        return value

    @model_validator(mode="after")
    def _consistent(self) -> TwilioSettings:
        if (self.from_number is None) == (self.messaging_service_sid is None):
            raise ValueError(
                "set exactly one of NUDGE_TWILIO_FROM_NUMBER and NUDGE_TWILIO_MESSAGING_SERVICE_SID"
            )
        if not _sid(self.account_sid, "AC"):
            raise ValueError("NUDGE_TWILIO_ACCOUNT_SID must look like AC + 32 hex digits")
        key = self.api_key_sid is not None or self.api_key_secret is not None
        if key == (self.auth_token is not None):
            raise ValueError(
                "authenticate one way: NUDGE_TWILIO_AUTH_TOKEN, or NUDGE_TWILIO_API_KEY_SID"
                " with NUDGE_TWILIO_API_KEY_SECRET"
            )
        if key and (self.api_key_sid is None or self.api_key_secret is None):
            raise ValueError(
                "an API key needs both NUDGE_TWILIO_API_KEY_SID and NUDGE_TWILIO_API_KEY_SECRET"
            )
        if self.api_key_sid is not None and not _sid(self.api_key_sid, "SK"):
            raise ValueError("NUDGE_TWILIO_API_KEY_SID must look like SK + 32 hex digits")
        return self

    def authorization(self) -> str:
        """Basic auth as Twilio reads it: the API key and its secret, else the account's SID
        and auth token (the account SID is in the path either way)."""
        if self.api_key_sid is not None and self.api_key_secret is not None:
            user, secret = self.api_key_sid, self.api_key_secret.get_secret_value()
        else:
            assert self.auth_token is not None
            user, secret = self.account_sid, self.auth_token.get_secret_value()
        return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


@dataclass(frozen=True)
class TwilioAnswer:
    """One whole HTTP answer, as the classification below needs it."""

    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True)
class _Proxy:
    url: URL
    source: str
    """Which setting named it, for the operator: NUDGE_TWILIO_PROXY_URL or HTTPS_PROXY."""

    def __str__(self) -> str:
        return f"proxy {self.url.host}:{self.url.port} (from {self.source})"


def _choose_proxy(settings: TwilioSettings) -> _Proxy | None:
    """The proxy for Twilio's origin, read once: the explicit setting, else the environment's
    HTTPS_PROXY / HTTP_PROXY (credentials in the URL are the proxy's) unless NO_PROXY names the
    host or the host is loopback. This is the stdlib's reading of them, the one aiohttp's
    `trust_env` makes on every request; once is enough for one origin."""
    if settings.proxy_url is not None:
        return _Proxy(URL(settings.proxy_url.get_secret_value()), "NUDGE_TWILIO_PROXY_URL")
    target = URL(settings.base_url)
    assert target.host is not None
    if _loopback(target.host) or urllib.request.proxy_bypass(target.host):
        return None
    found = urllib.request.getproxies().get(target.scheme)
    if not found:
        return None
    url = URL(found)
    if url.scheme != "http":
        raise ValueError(
            f"{target.scheme.upper()}_PROXY: only http:// proxies are supported, not {url.scheme}"
        )
    return _Proxy(url, f"{target.scheme.upper()}_PROXY")


class TwilioSms:
    """Twilio's Messages API over one aiohttp client session: a pool of keep-alive
    connections (`max_connections`), TLS with the system's or a configured CA, an optional
    HTTP proxy, no redirects followed. Twilio has no idempotency key (see the module doc).

    `resolver` is for tests that serve a real host name from loopback."""

    def __init__(
        self, settings: TwilioSettings, *, resolver: AbstractResolver | None = None
    ) -> None:
        self._settings = settings
        self._base = settings.base_url.rstrip("/")
        self._messages = f"{self._base}/2010-04-01/Accounts/{settings.account_sid}/Messages.json"
        self._proxy = _choose_proxy(settings)
        self._tls = ssl.create_default_context(cafile=settings.ca_file)
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(settings.max_connections)
        """Waiting for a free connection happens here, outside the request's timeouts."""

    def _client(self) -> aiohttp.ClientSession:
        """The session, made on first use (inside the running loop, as aiohttp wants)."""
        if self._session is None:
            timeout = self._settings.timeout_s
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self._settings.max_connections,
                    ssl=self._tls,
                    resolver=self._resolver,
                ),
                timeout=aiohttp.ClientTimeout(total=timeout, connect=timeout / 3),
                headers={
                    "Accept": "application/json",
                    "User-Agent": "nudge-dispatch",
                    "Authorization": self._settings.authorization(),
                },
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

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
        # Encoded here rather than as a dict: aiohttp would build a form writer per request.
        encoded = urlencode(form).encode("ascii")
        answer = await self._request("POST", URL(self._messages), data=encoded, headers=headers)
        return interpret_twilio_response(answer)

    async def find(
        self, to: str, body: str, *, since: datetime, taken: Collection[str] = ()
    ) -> SendResult | None:
        """The newest message to `to` whose body is exactly `body` (or `body` behind the trial
        account's prefix), created at or after `since` less a minute of clock skew, whose sid
        is not in `taken`. Twilio lists newest first by date sent, so the pages are read until
        a sent message is older than that or the pages end; a message not sent yet has no date
        sent and never ends the search. Every doubt is a TransientSendError, never None."""
        earliest = since - FIND_CLOCK_SKEW
        wanted = {body, TRIAL_PREFIX + body}
        url = URL(self._messages).with_query({"To": to, "PageSize": str(FIND_PAGE_SIZE)})
        for _ in range(FIND_MAX_PAGES):
            answer = await self._request("GET", url)
            if answer.status != 200:  # whatever the reason, we cannot tell: never "not sent"
                _, message = _twilio_error(answer)
                raise TransientSendError(
                    f"cannot read the Messages list: http {answer.status}: {message}",
                    http_status=answer.status,
                )
            page = _messages_page(answer.body)
            older = False
            for item in page.messages:
                if (
                    item.to == to
                    and item.body in wanted
                    and item.created >= earliest
                    and item.sid not in taken
                    and item.outbound
                ):
                    return SendResult(
                        provider_id=item.sid,
                        status=item.status,
                        detail="found in the provider's Messages list",
                    )
                older = older or (item.sent is not None and item.sent < earliest)
            if older or page.next_page_uri is None:
                return None
            url = URL(self._base + page.next_page_uri, encoded=True)
        raise TransientSendError(
            f"cannot read the Messages list: more than {FIND_MAX_PAGES} pages of messages to"
            " this recipient in the window"
        )

    async def _request(self, method: str, url: URL, **options: Any) -> TwilioAnswer:
        """One call, its whole answer read; every failure on the way classified."""
        async with self._slots:
            try:
                async with self._client().request(
                    method,
                    url,
                    allow_redirects=False,
                    proxy=self._proxy.url if self._proxy is not None else None,
                    **options,
                ) as response:
                    answer = TwilioAnswer(
                        response.status,
                        response.reason or "",
                        {name.lower(): value for name, value in response.headers.items()},
                        await _read_capped(response),
                    )
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                raise self._failure(exc) from exc
        if 300 <= answer.status < 400:
            location = answer.headers.get("location", "no Location")
            raise ProviderConfigError(
                f"twilio answered {answer.status} to {method} {url.with_query(None)}"
                f" (to {location}): NUDGE_TWILIO_BASE_URL is wrong, or something on the way"
                " redirects; redirects are not followed",
                http_status=answer.status,
            )
        if answer.status == 407:
            raise ProviderConfigError(
                f"{self._proxy or 'a proxy'} answered 407: {self._proxy_auth()}", http_status=407
            )
        return answer

    def _proxy_auth(self) -> str:
        """What to do about a 407, told without the credentials."""
        if self._proxy is not None and self._proxy.url.user is not None:
            return f"it refused the credentials in {self._proxy.source}"
        return "it wants credentials; give them in the proxy URL (http://user:password@host:port)"

    def _failure(self, exc: BaseException) -> TransientSendError:
        """No whole answer. Nothing can have reached Twilio until the connection (through the
        proxy, TLS included) exists; after that, it may have."""
        where = f"{self._proxy} to " if self._proxy is not None else ""
        where += str(URL(self._base).origin())
        detail = f"{type(exc).__name__} {str(exc)[:160]}".strip()
        if isinstance(exc, aiohttp.ClientHttpProxyError):  # the proxy refused CONNECT
            if exc.status == 407:
                return ProviderConfigError(
                    f"{self._proxy or 'the proxy'} answered 407 to CONNECT: {self._proxy_auth()}",
                    http_status=407,
                )
            if exc.status < 500:
                return ProviderConfigError(
                    f"{self._proxy or 'the proxy'} refused CONNECT to {URL(self._base).origin()}"
                    f" with {exc.status} {exc.message}: the proxy does not allow Twilio",
                    http_status=exc.status,
                )
            return TransientSendError(
                f"connection: {where}: the proxy answered {exc.status} {exc.message}",
                http_status=exc.status,
            )
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            hint = "NUDGE_TWILIO_CA_FILE" if self._settings.ca_file else "the system's CAs"
            return ProviderConfigError(
                f"tls: {where}: the certificate is refused ({exc.certificate_error}); check"
                f" NUDGE_TWILIO_BASE_URL's host and the CAs trusted ({hint})"
            )
        if isinstance(exc, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
            return TransientSendError(f"connection: {where}: {detail}", maybe_sent=False)
        if isinstance(exc, TimeoutError):
            limit = self._settings.timeout_s
            return TransientSendError(
                f"timeout: {where}: no whole answer within {limit:g} s", maybe_sent=True
            )
        return TransientSendError(f"connection: {where}: {detail}", maybe_sent=True)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


async def _read_capped(response: aiohttp.ClientResponse) -> bytes:
    """The answer's body, refused past MAX_ANSWER_BYTES (read whole: it may be a payload error)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise aiohttp.ClientPayloadError(f"an answer over {MAX_ANSWER_BYTES} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@dataclass(frozen=True)
class _Listed:
    sid: str
    to: str
    body: str
    created: datetime
    sent: datetime | None
    status: str | None
    outbound: bool


@dataclass(frozen=True)
class _Page:
    messages: list[_Listed]
    next_page_uri: str | None


def _messages_page(raw: bytes) -> _Page:
    """One page of Twilio's Messages list, or TransientSendError naming what is wrong."""

    def malformed(what: str) -> TransientSendError:
        return TransientSendError(f"the Messages list is not Twilio's shape: {what}")

    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise malformed("not JSON") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get("messages"), list):
        raise malformed("no messages array")
    next_page = payload.get("next_page_uri")
    if next_page is not None and (
        not isinstance(next_page, str) or not next_page.startswith("/") or next_page[:2] == "//"
    ):
        raise malformed(f"next_page_uri {str(next_page)[:80]!r} is not a path")
    listed: list[_Listed] = []
    for item in payload["messages"]:
        if not isinstance(item, dict):
            raise malformed("a message that is not an object")
        sid, to, body = item.get("sid"), item.get("to"), item.get("body")
        if not isinstance(sid, str) or not isinstance(to, str) or not isinstance(body, str):
            raise malformed("a message without sid, to or body")
        created = _twilio_time(item.get("date_created"))
        if created is None:
            raise malformed(f"message {sid}: date_created {item.get('date_created')!r}")
        status, direction = item.get("status"), item.get("direction")
        listed.append(
            _Listed(
                sid=sid,
                to=to,
                body=body,
                created=created,
                sent=_twilio_time(item.get("date_sent")),
                status=status if isinstance(status, str) else None,
                outbound=not isinstance(direction, str) or direction.startswith("outbound"),
            )
        )
    return _Page(listed, next_page)


def _twilio_time(value: object) -> datetime | None:
    """Twilio's resource times are RFC 2822 (`Mon, 23 Nov 2026 10:00:00 +0000`)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def interpret_twilio_response(answer: TwilioAnswer) -> SendResult:
    """2xx → the message SID; 429 / 5xx → transient; 401 → the credentials are wrong, a
    configuration error; any other status → permanent. (Redirects and 407 never get here:
    they are configuration errors too, see `TwilioSms`.)"""
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
    if status == 401:  # the account's credentials, not this message: every send would fail
        raise ProviderConfigError(
            f"{reason} (check NUDGE_TWILIO_ACCOUNT_SID and its auth token or API key)",
            code=code,
            http_status=status,
        )
    raise PermanentSendError(
        reason, code=code, http_status=status, opted_out=code == TWILIO_UNSUBSCRIBED
    )


def _twilio_error(answer: TwilioAnswer) -> tuple[int | None, str]:
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
