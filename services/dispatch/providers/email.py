"""Email: messages built with the standard library's `email` package, sent over SMTP through
aiosmtplib's public API on a small pool of reused connections.

Messages are `email.message.EmailMessage` under `policy.SMTP` (CRLF line ends, headers folded
at 78 characters, non-ASCII names and subjects as RFC 2047 encoded-words), or `policy.SMTPUTF8`
when an address itself is not ASCII: an address has no other form, whereas names and subjects
do, so only such a message needs a relay that offers SMTPUTF8. Both parts are UTF-8 in
quoted-printable, so every line is ASCII and short and no relay needs 8BITMIME.

One header is folded differently: `List-Unsubscribe`. Under `policy.SMTP` (measured on Python
3.11) a token longer than the line, such as a 200-character one-click URL, becomes a run of
encoded-words (`=?utf-8?q?=3Chttps=3A//...?=`) over several lines. Python's parser decodes
that, but mailbox providers read the header's URLs literally, and one-click unsubscribe breaks.
That header alone is folded with the same policy cloned with `max_line_length=998` (RFC 5322's
hard limit), through its own header class in the policy's `HeaderRegistry`, so its URLs stay
whole on one line; a URL that no 998-character line can hold is refused.

Cost: building stays inside the `email` package, but avoids its dearest steps where that
changes nothing on the wire: the header registry makes each header class once instead of once
per header, the shop's From and Reply-To and the headers every message carries are parsed once
and shared, the text parts are encoded by `binascii.b2a_qp` through a `ContentManager` of
our own, and the multipart boundary is chosen here, so the generator does not search the
parts for it.

Connections: one TLS handshake and AUTH per message would cap a real relay at a few dozen
emails per second, so up to `pool_size` connections stay open, each carrying one transaction
at a time (MAIL, RCPT, DATA and the content: four round trips). SMTP pipelining (RFC 2920)
would make that two, but aiosmtplib does not pipeline and offers no public extension point
for it (it reads one reply per command written), so instead of a protocol of our own on its
private transport the default pool is twice as large as it was with pipelining: as many
messages cross a far relay per round trip.

Failures: 4xx replies are transient, 5xx permanent, connection trouble transient. Only the
last step, aiosmtplib's `data()` (the DATA command, the content, the final reply), can leave
the relay holding the message, and the public API does not say whether a timeout or a dropped
connection inside it came before or after the content was written: such a failure is
`maybe_sent`. A reused connection that turns out dead at MAIL or RCPT (the relay dropped it
while idle) carried nothing, so the message is tried once more on a fresh one. A relay that
cannot be used as configured (certificate refused, STARTTLS missing, credentials refused,
refusal at the greeting) raises `ProviderConfigError`, which pauses the channel.

Idempotency: SMTP has none. The Message-ID is chosen by the caller (deterministic per trigger
and channel), so a re-delivery after `maybe_sent` carries the same id: Gmail and most clients
then show the message once, and the local sink counts it as a duplicate.
"""

from __future__ import annotations

import asyncio
import binascii
import functools
import ipaddress
import random
import re
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.contentmanager import ContentManager
from email.errors import HeaderParseError, NonASCIILocalPartDefect
from email.headerregistry import (
    Address,
    AddressHeader,
    BaseHeader,
    HeaderRegistry,
    UnstructuredHeader,
)
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import aiosmtplib
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.dispatch.providers.base import (
    PermanentSendError,
    ProviderConfigError,
    SendError,
    SendResult,
    TransientSendError,
)
from shared.clock import Clock, SystemClock, date_header_now

LOCAL_SMTP_PORT = 10025
"""Where the local SMTP sink listens for `make run` (deploy/local/sinks/smtp_sink.py)."""

MAX_LINE = 998
"""RFC 5322's hard limit on a header line, without its CRLF."""

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

_TLS_NOTE = "the relay's certificate must be valid for NUDGE_SMTP_HOST (NUDGE_SMTP_CA_FILE)"

Security = Literal["none", "opportunistic", "starttls", "tls"]


def is_loopback(host: str) -> bool:
    """`localhost` or a loopback IP literal: the only relays AUTH may reach without TLS."""
    name = host.strip().rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name.removeprefix("[").removesuffix("]")).is_loopback
    except ValueError:
        return False


class EmailSettings(BaseSettings):
    """The SMTP relay (defaults: the local SMTP sink, no auth, STARTTLS if it is offered)."""

    model_config = SettingsConfigDict(env_prefix="NUDGE_SMTP_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=LOCAL_SMTP_PORT, ge=1, le=65535)
    security: Security = "opportunistic"
    """`tls`: implicit TLS (465); `starttls`: upgrade required, fail if the relay does not
    offer it (587); `opportunistic`: upgrade when the relay offers STARTTLS, else stay plain;
    `none`: never upgrade. AUTH never goes over a plaintext connection to a relay other than
    loopback."""
    username: str | None = None
    password: SecretStr | None = None
    validate_certs: bool = True
    ca_file: Path | None = None
    """CA bundle for a relay with a private certificate authority."""
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    """Per wait for the relay: connecting, each command's reply, the reply to the content."""
    pool_size: int = Field(default=16, ge=1, le=64)
    """Connections kept open, which is also the number of messages in flight at once."""
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
        for name, address in (("FROM", self.from_address), ("BOUNCE", self.bounce_address)):
            if address is not None and not _fits_a_command(address):
                raise ValueError(f"NUDGE_SMTP_{name}_ADDRESS is not an address: {address!r}")
        if self.username is not None and self.security == "none" and not is_loopback(self.host):
            raise ValueError(
                f"NUDGE_SMTP_SECURITY=none would send NUDGE_SMTP_USERNAME's password in clear "
                f"text to NUDGE_SMTP_HOST={self.host}: use starttls, tls or opportunistic"
            )
        return self

    def default_sender(self) -> str:
        """`Name <address>` as the From header of messages that do not name a shop sender."""
        return formataddr((self.from_name, self.from_address))


def _fits_a_command(address: str) -> bool:
    """One argument of MAIL FROM or RCPT TO: `local@domain`, nothing that ends or adds one."""
    return "@" in address and not any(
        c.isspace() or c in '<>"' or not c.isprintable() for c in address
    )


# --- messages ----------------------------------------------------------------------------


class _WholeUrlsHeader(UnstructuredHeader, BaseHeader):
    """`List-Unsubscribe`: folded with lines up to 998 characters, so that no URL in it is
    turned into encoded-words or split (why: the module docstring)."""

    def fold(self, *, policy: Any) -> str:
        return super().fold(policy=_wide(policy))


@functools.lru_cache(maxsize=8)
def _wide(base: Policy) -> Policy:
    """`base` with lines up to 998 characters, made once per policy rather than per fold."""
    return base.clone(max_line_length=MAX_LINE)


class _HeaderClasses(HeaderRegistry):
    """A `HeaderRegistry` that makes each header class once.

    The stdlib's registry builds a new class with `type()` every time a header is set or
    parsed, a large share of what setting a header costs. The classes made here depend
    only on the registered class, so at most one per entry in the registry is kept, whatever
    header names a caller sends.
    """

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[type, type[BaseHeader]] = {}

    def map_to_type(self, name: str, cls: type[BaseHeader]) -> None:
        super().map_to_type(name, cls)
        self._made.clear()

    def __getitem__(self, name: str) -> type[BaseHeader]:
        registered = self.registry.get(name.lower(), self.default_class)
        made = self._made.get(registered)
        if made is None:
            made = self._made[registered] = super().__getitem__(name)
        return made


_HEADER_TYPES = _HeaderClasses()
_HEADER_TYPES.map_to_type("list-unsubscribe", _WholeUrlsHeader)
ASCII_POLICY = policy.SMTP.clone(header_factory=_HEADER_TYPES)
"""`policy.SMTP` with `List-Unsubscribe` folded at 998."""
UTF8_POLICY = ASCII_POLICY.clone(utf8=True)
"""The same with raw UTF-8 headers (`policy.SMTPUTF8`), for a non-ASCII address."""


@dataclass(frozen=True, slots=True)
class ComposedEmail:
    """One email ready for SMTP: the message, its bytes, and what the envelope needs."""

    message: EmailMessage
    payload: bytes
    message_id: str
    sender: str
    """The From header's address (the envelope sender without a bounce address)."""
    to: tuple[str, ...]
    """The To header's addresses (the envelope recipients)."""
    utf8: bool
    """Headers carry raw UTF-8 (a non-ASCII address): the relay must offer SMTPUTF8."""

    def as_bytes(self) -> bytes:
        return self.payload

    def recipients(self) -> list[str]:
        return list(self.to)

    def sender_address(self) -> str | None:
        return self.sender or None


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
    A value that cannot be sent as given raises `ValueError` naming the header.
    """
    message_id = normalise_message_id(message_id)
    message = EmailMessage(policy=ASCII_POLICY)
    from_header, from_addresses = _shop_address("From", sender)
    if len(from_addresses) != 1:
        raise ValueError(f"header From must hold exactly one address: {sender!r}")
    message["From"] = from_header
    to_addresses = _set_addresses(message, "To", to)
    _set(message, "Subject", subject)
    _set(message, "Date", format_datetime(date) if date else date_header_now())
    _set(message, "Message-ID", message_id)
    reply_addresses: tuple[Address, ...] = ()
    if reply_to:
        reply_header, reply_addresses = _shop_address("Reply-To", reply_to)
        message["Reply-To"] = reply_header
    targets: list[str] = []
    if unsubscribe_url is not None:
        _check_one_click_url(unsubscribe_url)
        targets.append(f"<{unsubscribe_url}>")
    if unsubscribe_mailto is not None:
        mailto = unsubscribe_mailto
        mailto = mailto if mailto.startswith("mailto:") else f"mailto:{mailto}"
        _check_list_target("unsubscribe_mailto", mailto)
        targets.append(f"<{mailto}>")
    if targets:
        _set(message, "List-Unsubscribe", ", ".join(targets))
    if unsubscribe_url is not None:
        message["List-Unsubscribe-Post"] = _ONE_CLICK_POST
    for name, value in (headers or {}).items():
        if not name or not name.isascii() or not name.isprintable() or ":" in name or " " in name:
            raise ValueError(f"not a header name: {name!r}")
        if name.lower() in _HEADERS_WE_SET:
            raise ValueError(f"header {name} is set by build_email itself")
        _set(message, name, value)
    message.set_content(text, "plain", content_manager=_QP_TEXT)
    if html is not None:
        message.make_alternative(boundary=_boundary())
        message.add_alternative(html, "html", content_manager=_QP_TEXT)
    addresses = (*from_addresses, *to_addresses, *reply_addresses)
    utf8 = not all(address.addr_spec.isascii() for address in addresses)
    payload = message.as_bytes(policy=UTF8_POLICY if utf8 else ASCII_POLICY)
    to_specs = tuple(address.addr_spec for address in to_addresses)
    return ComposedEmail(message, payload, message_id, from_addresses[0].addr_spec, to_specs, utf8)


def _boundary() -> str:
    """A random multipart boundary in the stdlib's own form (`=` * 15, 19 digits, `==`).

    The generator would otherwise compile a regular expression per message to check that the
    boundary it picks occurs in no part; no check is needed here because every part is
    quoted-printable, where `==` cannot occur (`=` is always written `=3D`).
    """
    return f"{'=' * 15}{random.randrange(1 << 63):019d}=="


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
"""Control characters other than tab, and what `str.splitlines` takes for a line break: none
may occur in a header value."""


def _parsed(name: str, value: str) -> BaseHeader:
    """The header object for `name: value`; a line break (header injection) or another
    control character is refused, as is a value the header's parser rejects."""
    if _CONTROL.search(value):
        raise ValueError(f"header {name} contains a line break or control character: {value!r}")
    try:
        header = ASCII_POLICY.header_factory(name, value)
    except (HeaderParseError, IndexError) as exc:  # IndexError: Python 3.11 on "user@"
        raise ValueError(f"header {name} cannot be parsed: {value!r} ({exc})") from None
    assert isinstance(header, BaseHeader)
    return header


def _set(message: EmailMessage, name: str, value: str) -> None:
    """Set a header, parsed and checked by `_parsed`."""
    message[name] = _parsed(name, value)


def _set_addresses(message: EmailMessage, name: str, value: str) -> tuple[Address, ...]:
    """Set an address header; refuse one the RFC 5322 parser finds fault with."""
    header, found = _address_header(name, value)
    message[name] = header
    return found


def _address_header(name: str, value: str) -> tuple[BaseHeader, tuple[Address, ...]]:
    """The parsed address header and its addresses, refused if the RFC 5322 parser finds
    fault with it."""
    header = _parsed(name, value)
    assert isinstance(header, AddressHeader)
    found = header.addresses
    if not found or any(not (a.username and a.domain) for a in found):
        raise ValueError(f"header {name} holds no valid address: {value!r}")
    defects = [d for d in header.defects if not isinstance(d, NonASCIILocalPartDefect)]
    if defects:  # a non-ASCII local part is not one: SMTPUTF8 carries it
        raise ValueError(f"header {name} is not a valid address: {value!r} ({defects[0]})")
    return header, found


_shop_address = functools.lru_cache(maxsize=256)(_address_header)
"""`_address_header` for From and Reply-To, which repeat per shop: parsing an address is
among the dearest steps of a build. Header objects are immutable, so messages share them."""


def _set_text(message: EmailMessage, text: str, subtype: Literal["plain", "html"]) -> None:
    """`set_content` for our text parts: UTF-8 in quoted-printable with CRLF line ends.

    It does what the stdlib's own handler does for `charset="utf-8", cte="quoted-printable"`
    (the same headers, line ends normalised the same way, lines of at most 78 characters)
    with two differences: the body is encoded by `binascii.b2a_qp` (C) instead of
    `email.quoprimime` (Python, the dearest step of a build for an HTML part), and the headers
    are parsed once per process instead of twice per part. The decoded text is the same.
    """
    body = b"\n".join(text.encode("utf-8").splitlines()) + b"\n"
    content_type, encoding = _TEXT_HEADERS[subtype]
    message["Content-Type"] = content_type
    message["Content-Transfer-Encoding"] = encoding
    message.set_payload(binascii.b2a_qp(body, istext=True).decode("ascii"))


_QP_TEXT = ContentManager()
_QP_TEXT.add_set_handler(str, _set_text)

# Headers that are the same in every message, parsed once (header objects are immutable).
_TEXT_HEADERS = {
    subtype: (
        _parsed("Content-Type", f'text/{subtype}; charset="utf-8"'),
        _parsed("Content-Transfer-Encoding", "quoted-printable"),
    )
    for subtype in ("plain", "html")
}
_ONE_CLICK_POST = _parsed("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")


def normalise_message_id(message_id: str) -> str:
    """`<local@domain>` from the caller's id, with or without its angle brackets."""
    bare = message_id.strip().removeprefix("<").removesuffix(">")
    if "@" not in bare or any(c.isspace() or c in "<>" or not c.isprintable() for c in bare):
        raise ValueError(f"not a Message-ID: {message_id!r} (expected local@domain)")
    return f"<{bare}>"


_ONE_CLICK_MAX = MAX_LINE - len("List-Unsubscribe: <>,")
"""The longest one-click URL that still fits whole on the header's first line."""


def _check_one_click_url(url: str) -> None:
    """RFC 8058 requires HTTPS; plain HTTP is allowed to loopback only, for the local stack."""
    _check_list_target("unsubscribe_url", url)
    if len(url) > _ONE_CLICK_MAX:
        raise ValueError(
            f"unsubscribe_url is {len(url)} characters: at most {_ONE_CLICK_MAX} fit whole "
            "on a List-Unsubscribe line"
        )
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if not (parts.scheme == "http" and is_loopback(parts.hostname or "")):
        raise ValueError(f"one-click unsubscribe needs an https:// URL, got {url!r}")


_LIST_SEPARATORS = re.compile("[<>, ]")


def _check_list_target(field: str, target: str) -> None:
    """RFC 2369 puts each target in angle brackets, separated by commas: none may occur in it."""
    if not (target.isascii() and target.isprintable()) or _LIST_SEPARATORS.search(target):
        raise ValueError(f"{field} must be ASCII without spaces, '<', '>' or ',': {target!r}")


# --- sending -----------------------------------------------------------------------------

_Stage = Literal["mail", "rcpt", "data"]


class SmtpSender:
    """Sends built messages over a pool of at most `pool_size` reused SMTP connections.

    aiosmtplib opens each connection (TLS or STARTTLS as `security` says, EHLO) and we log in
    when credentials are set and the connection is encrypted or the relay is loopback. Each
    message is `mail()`, `rcpt()` and `data()` on an idle connection. A connection that fails
    is closed and replaced on the next send; one that only refused a message is kept.

    `resolve_to` (tests): open the TCP connection to this (host, port) instead, keeping
    `settings.host` as the name TLS checks the certificate against and the loopback rule
    judges, as `curl --resolve` does.
    """

    def __init__(
        self,
        settings: EmailSettings,
        *,
        clock: Clock | None = None,
        resolve_to: tuple[str, int] | None = None,
    ) -> None:
        self._settings = settings
        self._clock = clock or SystemClock()
        self._resolve_to = resolve_to
        self._slots = asyncio.Semaphore(settings.pool_size)
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []
        self._closed = False

    async def send(self, message: ComposedEmail) -> SendResult:
        if self._closed:
            raise RuntimeError("SmtpSender is closed")
        envelope_from, recipients = self._envelope(message)
        async with self._slots:
            smtp, reused = await self._acquire()
            try:
                try:
                    reply = await self._transaction(smtp, envelope_from, recipients, message)
                except _StageError as failed:
                    await self._settle(smtp, failed.cause)
                    if not (reused and _worth_a_fresh_connection(failed)):
                        raise _classify(failed.cause, failed.stage) from failed.cause
                    smtp, _ = await self._acquire(fresh=True)
                    try:
                        reply = await self._transaction(smtp, envelope_from, recipients, message)
                    except _StageError as again:
                        await self._settle(smtp, again.cause)
                        raise _classify(again.cause, again.stage) from again.cause
            except BaseException as exc:
                if not isinstance(exc, SendError):
                    smtp.close()  # cancelled mid-transaction: the connection's state is unknown
                raise
            if self._closed:
                smtp.close()
            else:
                self._idle.append((smtp, self._clock.monotonic()))
        return SendResult(provider_id=message.message_id, detail=reply)

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
        """MAIL FROM and RCPT TO addresses, each checked to be one argument of its command
        (aiosmtplib checks this itself only from 5.x)."""
        recipients = message.recipients()
        if not recipients:
            raise PermanentSendError("no recipient address in To")
        sender = self._settings.bounce_address or message.sender_address()
        sender = sender or self._settings.from_address
        for address in (sender, *recipients):
            if not _fits_a_command(address):
                raise PermanentSendError(f"invalid envelope address: {_short(repr(address))}")
        return sender, recipients

    async def _acquire(self, *, fresh: bool = False) -> tuple[aiosmtplib.SMTP, bool]:
        """An idle connection that still answers, else a new one (its errors classified)."""
        while self._idle and not fresh:
            smtp, last_used = self._idle.pop()
            if not smtp.is_connected:
                smtp.close()
                continue
            if self._clock.monotonic() - last_used > _IDLE_CHECK_S:
                try:
                    await smtp.noop()
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    smtp.close()
                    continue
            return smtp, True
        return await self._open(), False

    async def _open(self) -> aiosmtplib.SMTP:
        s = self._settings
        sock = await self._resolved_socket() if self._resolve_to else None
        smtp = aiosmtplib.SMTP(
            hostname=s.host,
            port=None if sock else s.port,
            sock=sock,
            local_hostname=s.local_hostname,
            timeout=s.timeout_s,
            use_tls=s.security == "tls",
            start_tls={"starttls": True, "opportunistic": None}.get(s.security, False),
            validate_certs=s.validate_certs,
            cert_bundle=str(s.ca_file) if s.ca_file else None,
        )
        try:
            await smtp.connect()
            await self._log_in(smtp)
        except BaseException as exc:
            smtp.close()
            if isinstance(exc, Exception):
                raise _classify_connect(exc, s.host) from exc
            raise
        return smtp

    async def _resolved_socket(self) -> socket.socket:
        assert self._resolve_to is not None
        host, port = self._resolve_to
        loop = asyncio.get_running_loop()
        family, kind, proto, _, address = (
            await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            async with asyncio.timeout(self._settings.timeout_s):
                await loop.sock_connect(sock, address)
        except BaseException:
            sock.close()
            raise
        return sock

    async def _log_in(self, smtp: aiosmtplib.SMTP) -> None:
        """AUTH when credentials are set: only encrypted, or to a loopback relay."""
        s = self._settings
        if s.username is None or s.password is None:
            return
        encrypted = smtp.get_transport_info("sslcontext") is not None
        if not encrypted and not is_loopback(s.host):
            raise ProviderConfigError(
                f"{s.host} offered no STARTTLS: refusing to send NUDGE_SMTP_PASSWORD in clear "
                "text (NUDGE_SMTP_SECURITY=opportunistic); use starttls or tls"
            )
        await smtp.login(s.username, s.password.get_secret_value())

    async def _transaction(
        self,
        smtp: aiosmtplib.SMTP,
        sender: str,
        recipients: list[str],
        message: ComposedEmail,
    ) -> str:
        """One message; a failure says how far it got (`_StageError`)."""
        utf8 = message.utf8 or not (sender + "".join(recipients)).isascii()
        options: list[str] = []
        stage: _Stage = "mail"
        try:
            if utf8:
                if not smtp.supports_extension("smtputf8"):
                    raise aiosmtplib.SMTPNotSupported("non-ASCII address without SMTPUTF8")
                options.append("SMTPUTF8")
            if smtp.supports_extension("size"):
                options.append(f"SIZE={len(message.payload)}")
            encoding = "utf-8" if utf8 else "ascii"
            await smtp.mail(sender, options=options, encoding=encoding)
            stage = "rcpt"
            for recipient in recipients:
                await smtp.rcpt(recipient, encoding=encoding)
            stage = "data"
            response = await smtp.data(message.payload)
        except Exception as exc:
            raise _StageError(stage, exc) from exc
        return f"{response.code} {response.message}"

    async def _settle(self, smtp: aiosmtplib.SMTP, cause: Exception) -> None:
        """Keep a connection that only refused this message (after RSET); close one that
        broke or is going away (421)."""
        code = cause.code if isinstance(cause, aiosmtplib.SMTPResponseException) else None
        if code is not None and 400 <= code < 600 and code != 421 and smtp.is_connected:
            try:
                await smtp.rset()
            except (aiosmtplib.SMTPException, OSError, TimeoutError):
                smtp.close()
                return
            self._idle.append((smtp, self._clock.monotonic()))
        else:
            smtp.close()


class _StageError(Exception):
    def __init__(self, stage: _Stage, cause: Exception) -> None:
        super().__init__(stage)
        self.stage = stage
        self.cause = cause


def _worth_a_fresh_connection(failed: _StageError) -> bool:
    """A reused connection that failed before DATA carried nothing: dead while idle (dropped,
    or closing with 421), so one more try on a fresh connection cannot duplicate."""
    if failed.stage not in ("mail", "rcpt"):
        return False
    cause = failed.cause
    if isinstance(cause, aiosmtplib.SMTPResponseException):
        return cause.code == 421
    return isinstance(cause, ConnectionError) and not isinstance(cause, TimeoutError)


def _classify(exc: Exception, stage: _Stage) -> SendError:
    """SMTP reply codes decide (4xx transient, 5xx permanent); network trouble is transient.

    `maybe_sent` is set when the connection failed in `data()`: aiosmtplib's public API does
    not tell whether the content had been written, so the relay may have accepted the message
    and a retry can deliver it twice (with the same Message-ID).
    """
    if isinstance(exc, aiosmtplib.SMTPResponseException) and 400 <= exc.code < 600:
        reason = f"smtp {exc.code} at {stage}: {_short(exc.message)}"
        if exc.code >= 500:
            return PermanentSendError(reason, code=exc.code)
        return TransientSendError(reason, code=exc.code)
    if isinstance(exc, ValueError):  # an address no SMTP command can carry: never sendable
        return PermanentSendError(f"invalid envelope at {stage}: {_short(str(exc))}")
    if isinstance(exc, aiosmtplib.SMTPNotSupported):
        return PermanentSendError(f"not supported by the relay: {_short(str(exc))}")
    maybe_sent = stage == "data"
    if isinstance(exc, TimeoutError):
        return TransientSendError(f"timeout at {stage}", maybe_sent=maybe_sent)
    detail = _short(str(exc) or type(exc).__name__)
    return TransientSendError(f"connection at {stage}: {detail}", maybe_sent=maybe_sent)


def _classify_connect(exc: Exception, host: str) -> SendError:
    """Opening a connection: a relay that cannot be used as configured pauses the channel
    (`ProviderConfigError`); network trouble and 4xx replies are transient. Nothing was sent."""
    if isinstance(exc, SendError):
        return exc
    tls = _tls_failure(exc)  # a relay closing mid-handshake (EOF) is network trouble, not TLS
    if tls is not None:
        return ProviderConfigError(f"TLS with {host} failed: {_short(str(tls))}; {_TLS_NOTE}")
    if isinstance(exc, aiosmtplib.SMTPResponseException) and 400 <= exc.code < 500:
        return TransientSendError(
            f"smtp {exc.code} at connect: {_short(exc.message)}", code=exc.code
        )
    if isinstance(exc, aiosmtplib.SMTPResponseException) and exc.code >= 500:
        what = "login" if isinstance(exc, aiosmtplib.SMTPAuthenticationError) else "connect"
        error = ProviderConfigError(f"smtp {exc.code} at {what}: {_short(exc.message)}")
        error.code = exc.code
        return error
    if isinstance(exc, TimeoutError):
        return TransientSendError("timeout at connect")
    if isinstance(exc, OSError | aiosmtplib.SMTPServerDisconnected | aiosmtplib.SMTPConnectError):
        return TransientSendError(f"connection at connect: {_short(str(exc) or repr(exc))}")
    # STARTTLS required but not offered, AUTH not offered, a malformed greeting...
    return ProviderConfigError(f"cannot use {host}: {_short(str(exc) or repr(exc))}")


def _tls_failure(exc: BaseException) -> ssl.SSLError | None:
    """The TLS error behind `exc` (aiosmtplib wraps it), if any: a refused certificate, a
    wrong host name, a relay that does not speak TLS where `security` says it does."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLError) and not isinstance(
            current, ssl.SSLEOFError | ssl.SSLZeroReturnError
        ):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


__all__ = [
    "ComposedEmail",
    "EmailSettings",
    "SmtpSender",
    "build_email",
    "is_loopback",
    "normalise_message_id",
]
