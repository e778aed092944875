"""Email: build RFC 5322 messages and send them over SMTP with a small pool of reused connections.

Why a pool: one TLS handshake and AUTH per message would cap throughput at a few dozen emails
per second against a real relay; a handful of long-lived connections, each carrying one
transaction at a time, keeps the relay busy without opening hundreds of sockets.

The message's bytes are written by `mime.compose` (why, and the folding rules that keep a
long one-click URL whole, are in that module), not by `email.message`.

Idempotency: SMTP has none. The Message-ID is chosen by the caller (deterministic per trigger
and channel), so a re-delivery after an ambiguous failure (`maybe_sent`) carries the same id:
Gmail and most clients then show the message once, and the sink counts it as a duplicate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from datetime import datetime
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import aiosmtplib
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.dispatch.providers.base import (
    PermanentSendError,
    SendError,
    SendResult,
    TransientSendError,
)
from services.dispatch.providers.mime import ComposedEmail, compose
from services.dispatch.providers.smtp_session import CONTENT, SmtpSession
from shared.clock import date_header_now

LOCAL_SMTP_PORT = 10025
"""Where the local SMTP sink listens for `make run` (deploy/local/sinks/smtp_sink.py)."""

_IDLE_CHECK_S = 15.0
"""A pooled connection idle longer than this is probed with NOOP before it carries a message:
servers drop idle clients (Postfix after 300 s, many relays sooner), and a probe that fails
costs nothing, whereas a MAIL on a dead socket costs an error."""

_HEADERS_WE_SET = frozenset(
    h.lower()
    for h in (
        "From",
        "To",
        "Subject",
        "Message-ID",
        "Date",
        "Reply-To",
        "MIME-Version",
        "Content-Type",
        "Content-Transfer-Encoding",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
    )
)


class EmailSettings(BaseSettings):
    """The SMTP relay (defaults: the local SMTP sink, plain, no auth)."""

    model_config = SettingsConfigDict(env_prefix="NUDGE_SMTP_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=LOCAL_SMTP_PORT, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "none"
    """`starttls`: upgrade required (587); `tls`: implicit TLS (465); `none`: never upgrade."""
    username: str | None = None
    password: SecretStr | None = None
    validate_certs: bool = True
    ca_file: Path | None = None
    """CA bundle for a relay with a private certificate authority."""
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    """Per wait for the relay: connecting, the replies to MAIL, RCPT and DATA (one wait when
    pipelined, else one per command), and the reply to the content."""
    pool_size: int = Field(default=8, ge=1, le=64)
    """Connections kept open, which is also the number of messages in flight at once."""
    pipelining: bool = True
    """Pipeline MAIL, RCPT and DATA when the relay offers PIPELINING (RFC 2920); off: one
    command at a time, for a relay that offers it but mishandles it."""
    local_hostname: str | None = None
    """The name we give in EHLO; default: this machine's FQDN."""
    from_address: str = "nudge@localhost"
    from_name: str = "Nudge"
    reply_to: str | None = None
    bounce_address: str | None = None
    """Envelope sender (Return-Path) for bounces; default: the From address."""

    @model_validator(mode="after")
    def _auth_complete(self) -> EmailSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("NUDGE_SMTP_USERNAME and NUDGE_SMTP_PASSWORD go together")
        return self

    def default_sender(self) -> str:
        """`Name <address>` as the From header of messages that do not name a shop sender."""
        return formataddr((self.from_name, self.from_address))


def build_email(
    *,
    sender: str,
    to: str,
    subject: str,
    text: str,
    message_id: str,
    html: str | None = None,
    date: datetime | None = None,
    reply_to: str | None = None,
    unsubscribe_url: str | None = None,
    unsubscribe_mailto: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> ComposedEmail:
    """One email, text part first (multipart/alternative when there is HTML).

    `message_id` is the caller's deterministic id (`<local@domain>`, brackets optional): it
    is what makes a re-delivery recognisable. `unsubscribe_url` (HTTPS) adds the RFC 8058
    pair `List-Unsubscribe` + `List-Unsubscribe-Post: List-Unsubscribe=One-Click`;
    `unsubscribe_mailto` adds a mailto: alternative for clients without one-click support.
    `headers` are extra headers (Feedback-ID, X-Nudge-...); they may not replace ours.
    """
    message_id = normalise_message_id(message_id)
    fields = [
        ("From", sender),
        ("To", to),
        ("Subject", subject),
        ("Date", format_datetime(date) if date else date_header_now()),
        ("Message-ID", message_id),
    ]
    if reply_to:
        fields.append(("Reply-To", reply_to))
    targets: list[str] = []
    if unsubscribe_url is not None:
        _check_one_click_url(unsubscribe_url)
        targets.append(f"<{unsubscribe_url}>")
    if unsubscribe_mailto is not None:
        mailto = unsubscribe_mailto
        targets.append(f"<{mailto if mailto.startswith('mailto:') else 'mailto:' + mailto}>")
    if targets:
        fields.append(("List-Unsubscribe", ", ".join(targets)))
    if unsubscribe_url is not None:
        fields.append(("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
    for name, value in (headers or {}).items():
        if name.lower() in _HEADERS_WE_SET:
            raise ValueError(f"header {name} is set by build_email itself")
        fields.append((name, value))
    payload, utf8 = compose(fields, text, html)
    return ComposedEmail(payload, message_id, sender, to, utf8)


def normalise_message_id(message_id: str) -> str:
    bare = message_id.strip().removeprefix("<").removesuffix(">")
    if "@" not in bare or any(c.isspace() or c in "<>" for c in bare):
        raise ValueError(f"not a Message-ID: {message_id!r} (expected local@domain)")
    return f"<{bare}>"


def _check_one_click_url(url: str) -> None:
    """RFC 8058 requires HTTPS; plain HTTP is allowed to loopback only, for the local stack."""
    if url.startswith("https://"):
        return
    parts = urlsplit(url)
    loopback = parts.hostname in {"localhost", "127.0.0.1", "::1"}
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ValueError(f"one-click unsubscribe needs an https:// URL, got {url!r}")


class SmtpSender:
    """Sends built messages over a pool of at most `pool_size` reused SMTP connections.

    aiosmtplib opens each connection (TLS, STARTTLS, EHLO, AUTH as configured); the message
    transactions on it are `SmtpSession`'s, pipelined when the relay offers PIPELINING.
    A connection that fails is closed and replaced on the next send. A reused connection that
    turns out dead before the content went out (the server dropped it while idle) is replaced
    and the message tried once more on a fresh one: nothing was sent yet, so this cannot
    duplicate.
    """

    def __init__(self, settings: EmailSettings) -> None:
        self._settings = settings
        self._slots = asyncio.Semaphore(settings.pool_size)
        self._idle: list[tuple[SmtpSession, float]] = []
        self._closed = False

    async def send(self, message: ComposedEmail) -> SendResult:
        if self._closed:
            raise RuntimeError("SmtpSender is closed")
        message_id = message.message_id
        envelope_from, recipients = self._envelope(message)
        utf8 = message.utf8 or not (envelope_from + "".join(recipients)).isascii()
        payload = message.payload
        async with self._slots:
            smtp, reused = await self._acquire()
            try:
                reply = await self._transaction(smtp, envelope_from, recipients, payload, utf8)
            except _StageError as failed:
                self._settle(smtp, failed.cause)
                if not (reused and failed.stage != CONTENT and _is_connection_error(failed.cause)):
                    raise _classify(failed.cause, failed.stage) from failed.cause
                smtp, _ = await self._acquire(fresh=True)
                try:
                    reply = await self._transaction(smtp, envelope_from, recipients, payload, utf8)
                except _StageError as again:
                    self._settle(smtp, again.cause)
                    raise _classify(again.cause, again.stage) from again.cause
            except BaseException:
                smtp.close()  # cancelled mid-transaction: the connection's state is unknown
                raise
            if self._closed:
                smtp.close()
            else:
                self._idle.append((smtp, time.monotonic()))
        return SendResult(provider_id=message_id, detail=reply)

    async def close(self) -> None:
        """QUIT every idle connection; in-flight sends finish on their own connection."""
        self._closed = True
        idle, self._idle = self._idle, []
        for smtp, _ in idle:
            try:
                await smtp.quit()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                smtp.close()

    def _envelope(self, message: ComposedEmail) -> tuple[str, list[str]]:
        recipients = message.recipients()
        if not recipients:
            raise PermanentSendError("no recipient address in To")
        sender = self._settings.bounce_address or message.sender_address()
        return sender or self._settings.from_address, recipients

    async def _acquire(self, *, fresh: bool = False) -> tuple[SmtpSession, bool]:
        """An idle connection that still answers, else a new one (connect errors classified)."""
        while self._idle and not fresh:
            smtp, last_used = self._idle.pop()
            if not smtp.is_connected:
                smtp.close()
                continue
            if time.monotonic() - last_used > _IDLE_CHECK_S:
                try:
                    reply = await smtp.command(b"NOOP")
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    reply = None
                if reply is None or reply.code != 250:
                    smtp.close()
                    continue
            return smtp, True
        client = self._new_client()
        try:
            await client.connect()
            if client.last_ehlo_response is None:
                await client.ehlo()
            timeout_s, pipelining = self._settings.timeout_s, self._settings.pipelining
            return SmtpSession.take_over(client, timeout_s, pipelining=pipelining), False
        except BaseException as exc:
            client.close()
            if isinstance(exc, Exception):
                raise _classify(exc, "connect") from exc
            raise

    def _new_client(self) -> aiosmtplib.SMTP:
        s = self._settings
        return aiosmtplib.SMTP(
            hostname=s.host,
            port=s.port,
            username=s.username,
            password=s.password.get_secret_value() if s.password else None,
            local_hostname=s.local_hostname,
            timeout=s.timeout_s,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",  # False, not None: never upgrade by surprise
            validate_certs=s.validate_certs,
            cert_bundle=str(s.ca_file) if s.ca_file else None,
        )

    async def _transaction(
        self,
        smtp: SmtpSession,
        sender: str,
        recipients: list[str],
        payload: bytes,
        utf8: bool,
    ) -> str:
        """One message; a failure says whether the content had been sent (`_StageError`)."""
        options: list[bytes] = []
        if utf8:
            if not smtp.supports("smtputf8"):
                raise _StageError(
                    "mail", aiosmtplib.SMTPNotSupported("non-ASCII address without SMTPUTF8")
                )
            options.append(b"SMTPUTF8")
        if smtp.supports("size"):
            options.append(b"SIZE=%d" % len(payload))
        encoding = "utf-8" if utf8 else "ascii"
        mail = b" ".join([f"<{sender}>".encode(encoding), *options])
        rcpts = [f"<{recipient}>".encode(encoding) for recipient in recipients]
        try:
            response = await smtp.transaction(mail, rcpts, payload)
        except Exception as exc:
            if isinstance(exc, aiosmtplib.SMTPResponseException) and smtp.is_connected:
                try:
                    await smtp.command(b"RSET")
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    smtp.close()
            raise _StageError(smtp.stage, exc) from exc
        return f"{response.code} {response.message}"

    def _settle(self, smtp: SmtpSession, cause: Exception) -> None:
        """Keep a connection that only refused this message; close one that broke."""
        keep = (
            isinstance(cause, aiosmtplib.SMTPResponseException)
            and cause.code != 421
            and smtp.is_connected
        )
        if keep:
            self._idle.append((smtp, time.monotonic()))
        else:
            smtp.close()


class _StageError(Exception):
    def __init__(self, stage: str, cause: Exception) -> None:
        super().__init__(stage)
        self.stage = stage
        self.cause = cause


def _is_connection_error(exc: Exception) -> bool:
    return isinstance(exc, OSError | aiosmtplib.SMTPServerDisconnected) and not isinstance(
        exc, aiosmtplib.SMTPResponseException | TimeoutError
    )


def _classify(exc: Exception, stage: str) -> SendError:
    """SMTP reply codes decide (4xx transient, 5xx permanent); network trouble is transient.

    `maybe_sent` is set when the connection failed after the content was sent: the relay may
    have accepted the message, so a retry can deliver it twice (same Message-ID).
    """
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        reason = f"smtp {exc.code} at {stage}: {_short(exc.message)}"
        if 500 <= exc.code < 600:
            return PermanentSendError(reason, code=exc.code)
        return TransientSendError(reason, code=exc.code)
    if isinstance(exc, ValueError):  # a control character in an address: never sendable
        return PermanentSendError(f"invalid envelope at {stage}: {_short(str(exc))}")
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return PermanentSendError(f"not supported by the relay: {_short(str(exc))}")
    maybe_sent = stage == CONTENT
    if isinstance(exc, TimeoutError):
        return TransientSendError(f"timeout at {stage}", maybe_sent=maybe_sent)
    if isinstance(exc, OSError | aiosmtplib.SMTPException):
        detail = _short(str(exc) or type(exc).__name__)
        return TransientSendError(f"connection at {stage}: {detail}", maybe_sent=maybe_sent)
    return TransientSendError(f"{type(exc).__name__} at {stage}: {_short(str(exc))}")


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = [
    "ComposedEmail",
    "EmailSettings",
    "SmtpSender",
    "build_email",
    "normalise_message_id",
]
