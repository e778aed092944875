"""The wire form of Nudge's emails, written directly as bytes.

Why not `email.message.EmailMessage`: building, folding and flattening one marketing email
through it cost about 2 ms of CPU (its header registry parses every header it is given, and
the generator re-parses them to fold), more than everything else dispatch does for a message.
Our emails have one fixed shape, so this module writes it: the headers Nudge sets, optional
extra headers, and a text part (first) plus an optional HTML part, both UTF-8 in
quoted-printable, so every line is ASCII and short and no relay needs 8BITMIME. Non-ASCII
display names and subjects become RFC 2047 encoded-words; addresses with a non-ASCII local
part keep their UTF-8 and mark the message `utf8` (the relay must offer SMTPUTF8).

ASCII headers fold at whitespace only: the standard policy turns any token longer than a line
into encoded-words, and mailbox providers do not decode those in `List-Unsubscribe`, so a
long one-click URL stays whole on its line (well under RFC 5322's 998 characters).
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from email.header import Header
from email.utils import formataddr, getaddresses
from functools import lru_cache

LINE = 78
"""Where headers fold when they can (RFC 5322's "should"); 998 is the hard limit."""
CRLF = "\r\n"


@dataclass(frozen=True, slots=True)
class ComposedEmail:
    """One email ready for SMTP: its bytes, and what the envelope needs."""

    payload: bytes
    message_id: str
    sender: str
    """The From header as given (the envelope sender is taken from it without a bounce address)."""
    to: str
    utf8: bool
    """Headers carry raw UTF-8 (a non-ASCII address): the relay must offer SMTPUTF8."""

    def as_bytes(self) -> bytes:
        return self.payload

    def recipients(self) -> list[str]:
        return addresses(self.to)

    def sender_address(self) -> str | None:
        found = addresses(self.sender)
        return found[0] if found else None


_NOT_BARE = frozenset(' \t"<>(),;:[]\\')


def _bare(header: str) -> bool:
    """A plain `local@domain`, how dispatch addresses its customers: nothing to parse (the
    RFC 5322 parser costs 15 us a call)."""
    return header.count("@") == 1 and _NOT_BARE.isdisjoint(header)


def addresses(header: str) -> list[str]:
    """The addresses of an address header."""
    if _bare(header):
        return [header]
    return list(_parsed_addresses(header))


@lru_cache(maxsize=1024)
def _parsed_addresses(header: str) -> tuple[str, ...]:
    """Cached: a shop's From (`Name <address>`) is the same on every email."""
    return tuple(address for _, address in getaddresses([header]) if address)


def compose(
    headers: Iterable[tuple[str, str]],
    text: str,
    html: str | None,
) -> tuple[bytes, bool]:
    """The message's bytes (CRLF line ends) and whether it needs SMTPUTF8."""
    lines: list[str] = []
    utf8 = False
    for name, value in headers:
        header, raw = _header(name, value)
        lines.append(header)
        utf8 = utf8 or raw
    lines.append("MIME-Version: 1.0")
    text_part = _text_part("plain", text)
    if html is None:
        head = CRLF.join(lines) + CRLF
        return head.encode("utf-8") + text_part, utf8
    html_part = _text_part("html", html)
    boundary = "==nudge=_" + hashlib.blake2b(text_part + html_part, digest_size=12).hexdigest()
    # "=_" never occurs in quoted-printable output ("=" is always "=3D"): the boundary is safe.
    lines.append(f'Content-Type: multipart/alternative;{CRLF} boundary="{boundary}"')
    head = CRLF.join(lines) + CRLF + CRLF
    delimiter = f"--{boundary}{CRLF}".encode()
    return b"".join(
        (
            head.encode("utf-8"),
            delimiter,
            text_part,
            CRLF.encode(),
            delimiter,
            html_part,
            f"{CRLF}--{boundary}--{CRLF}".encode(),
        )
    ), utf8


ADDRESS_HEADERS = frozenset({"from", "to", "reply-to", "cc", "sender"})


def _header(name: str, value: str) -> tuple[str, bool]:
    if not name or not name.isascii() or not name.isprintable() or ":" in name or " " in name:
        raise ValueError(f"not a header name: {name!r}")
    if "\r" in value or "\n" in value:
        raise ValueError(f"header {name} contains a line break")
    if name.lower() in ADDRESS_HEADERS:
        return _address_header(name, value)
    if value.isascii():
        return _fold_ascii(name, value), False
    encoded = Header(value, "utf-8", header_name=name).encode(linesep=CRLF)
    return f"{name}: {encoded}", False


def _address_header(name: str, value: str) -> tuple[str, bool]:
    if value.isascii() and _bare(value):
        return _fold_ascii(name, value), False
    return _parsed_address_header(name, value)


@lru_cache(maxsize=1024)
def _parsed_address_header(name: str, value: str) -> tuple[str, bool]:
    """Cached: a shop's From is the same on every email."""
    pairs = getaddresses([value])
    if not pairs or any(not address for _, address in pairs):
        raise ValueError(f"header {name} holds no valid address: {value!r}")
    formatted: list[str] = []
    utf8 = False
    for display, address in pairs:
        if not address.isascii():
            utf8 = True
            formatted.append(f"{display} <{address}>" if display else address)
        else:
            formatted.append(formataddr((display, address), charset="utf-8"))
    joined = ", ".join(formatted)
    return (f"{name}: {joined}" if utf8 else _fold_ascii(name, joined)), utf8


def _fold_ascii(name: str, value: str) -> str:
    """Fold at spaces only, never inside a word; refuse a word no line can hold."""
    if len(name) + 2 + len(value) <= LINE:  # most headers: one line as it is
        return f"{name}: {value}"
    lines: list[str] = []
    line = f"{name}:"
    for word in value.split(" "):
        if len(line) + 1 + len(word) > LINE and line.strip() and line != f"{name}:":
            lines.append(line)
            line = ""
        line = f"{line} {word}"
    lines.append(line)
    if any(len(one) > 998 for one in lines):
        raise ValueError(f"header {name} has a word longer than 998 characters")
    return CRLF.join(lines)


def _text_part(subtype: str, content: str) -> bytes:
    body = content.replace("\r\n", "\n").replace("\r", "\n")
    if not body.endswith("\n"):
        body += "\n"
    encoded = binascii.b2a_qp(body.replace("\n", CRLF).encode("utf-8"), istext=True)
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}"
    ).encode() + encoded
