"""aiosmtpd's SMTP server with a cheaper DATA read and address parse, for the local sink.

Why: the sink shares the machine's cores with dispatch in `make run` and `make bench`, and
aiosmtpd spent most of its CPU reading DATA one line at a time (an awaited `readuntil` and a
debug log call per line, about 100 lines per marketing email) and on defining a `Protocol`
class and running the RFC 5322 parser on every MAIL and RCPT. This subclass reads DATA in
blocks up to the terminating `<CRLF>.<CRLF>` and parses plain addresses with a regular
expression. The rules are aiosmtpd's (RFC 5321 4.5.2 dot removal, its line-length and
message-size limits with their 500 and 552 answers, given after the whole message was read),
as are every other command, AUTH and STARTTLS.
"""

from __future__ import annotations

import asyncio
import logging
import re
from email._header_value_parser import get_addr_spec, get_angle_addr
from email.errors import HeaderParseError

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP

log = logging.getLogger("mail.log")

END = b"\r\n.\r\n"
_TOO_LONG = "500 Line too long (see RFC5321 4.5.3.1.6)"


class BlockDataSMTP(SMTP):
    """`SMTP` whose DATA reads blocks instead of lines."""

    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """aiosmtpd's, faster (`local_part_limit` is not applied: the sink never sets it)."""
        return parse_address(arg)

    async def smtp_DATA(self, arg: str) -> None:
        if await self.check_helo_needed():
            return
        if await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            content, error = await self._read_content()
        except asyncio.CancelledError:
            log.info("Connection lost during DATA")
            self._writer.close()
            raise
        if error is not None:
            await self.push(error)
            self._set_post_data_state()  # type: ignore[no-untyped-call]
            return
        self.envelope.content = (
            content.decode("utf-8", errors="surrogateescape") if self._decode_data else content
        )
        self.envelope.original_content = content
        status = await self._call_handler_hook("DATA") if "DATA" in self._handle_hooks else MISSING
        self._set_post_data_state()  # type: ignore[no-untyped-call]
        await self.push("250 OK" if status is MISSING else status)

    async def _read_content(self) -> tuple[bytes, str | None]:
        """The message up to the lone dot, dots unstuffed; or the error to answer once all of
        it was read (a message over the limits is read to its end and dropped)."""
        limit = self.data_size_limit
        received = bytearray()
        size = 0
        too_much = too_long = False
        while True:
            try:
                block = await self._reader.readuntil(b".\r\n")
            except asyncio.LimitOverrunError as overrun:  # no terminator within the reader's limit
                block = await self._reader.readexactly(overrun.consumed)
            size += len(block)
            if not too_much and limit and size > limit:
                too_much = True  # a line too long before this point is answered first
                too_long = _longest_line(bytes(received) + block) > self.line_length_limit
            if too_much:
                tail = bytes(received[-4:]) + block  # enough to see the terminator
                received = bytearray(tail[-5:])
            else:
                received += block
            if received == b".\r\n" or received.endswith(END):
                break
        if too_much:
            return b"", _TOO_LONG if too_long else "552 Error: Too much mail data"
        body = bytes(received[:-3])  # keep the last line's CRLF, as aiosmtpd does
        if len(body) > self.line_length_limit and _longest_line(body) > self.line_length_limit:
            return b"", _TOO_LONG
        body = body.replace(b"\r\n.", b"\r\n")
        return (body[1:] if body.startswith(b".") else body), None


def _longest_line(body: bytes) -> int:
    """The longest line with its CRLF, as aiosmtpd measures it."""
    return max(map(len, body.split(b"\r\n"))) + 2


ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN = re.compile(
    rf"<({ATEXT}(?:\.{ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>(?:[ \t]+([^ \t(][^(]*))?"
)
"""`<dot-atom@domain> PARAMS` without quotes, comments or literals: how clients write it."""


def parse_address(arg: str) -> tuple[str | None, str | None]:
    """aiosmtpd's parse of a MAIL or RCPT address (`<a@b> PARAMS` or `a@b PARAMS`): plain
    addresses by one regular expression (the parser costs about 40 us), the rest by the
    parser."""
    if not arg:
        return "", ""
    plain = _PLAIN.fullmatch(arg)
    if plain is not None:
        return plain.group(1), plain.group(2) or ""
    try:
        parse = get_angle_addr if arg.lstrip().startswith("<") else get_addr_spec
        address, rest = parse(arg)
    except HeaderParseError:
        return None, None
    return address.addr_spec, rest


class BlockDataController(Controller):
    """aiosmtpd's threaded controller serving `BlockDataSMTP`."""

    def factory(self) -> SMTP:
        return BlockDataSMTP(self.handler, **self.SMTP_kwargs)
