"""An SMTP connection's message transactions, pipelined where the server offers PIPELINING.

aiosmtplib opens the session (connect, implicit TLS or STARTTLS, EHLO, AUTH), and then hands
its transport to `SmtpSession`, which carries the transactions. Why: aiosmtplib reads one
reply per command written ("if multiple commands are written to the transport without
awaiting, response data will be lost"), so each message costs four round trips (MAIL, RCPT,
DATA, the content). With PIPELINING (RFC 2920) MAIL, RCPT and DATA go out in one write, and
a message costs two. Against a relay 20 ms away that halves the time a pooled connection
spends on a message; on the local stack it halves the writes and wake-ups on both sides
(figures in the README). A server without PIPELINING gets the same commands one at a time.

Errors are aiosmtplib's exception types, so that callers classify one vocabulary.
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from typing import cast

import aiosmtplib
from aiosmtplib.protocol import normalize_message_line_endings
from aiosmtplib.typing import SMTPStatus

MAX_LINE = 8192
"""Longest reply line accepted (aiosmtplib's limit)."""
MAX_PENDING = 4 * MAX_LINE
"""Most unparsed reply bytes held: more is a server gone wrong."""
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")
_ACCEPTED = (SMTPStatus.completed, SMTPStatus.will_forward)
CONTENT = "end of data"
"""The stage from which the server may have the message (a failure is ambiguous)."""


class SmtpSession(asyncio.Protocol):
    """One open SMTP connection, its replies read in order as they come."""

    def __init__(
        self, transport: asyncio.WriteTransport, extensions: dict[str, str], timeout_s: float
    ) -> None:
        self.extensions = extensions
        """EHLO keywords (lower case) and their parameters, as the session was opened with."""
        self.timeout_s = timeout_s
        """The longest wait for a reply (or the replies to pipelined commands): TimeoutError."""
        self._transport = transport
        self._buffer = bytearray()
        self._replies: deque[aiosmtplib.SMTPResponse] = deque()
        self._expected = 0
        self._waiter: asyncio.Future[None] | None = None
        self._lost: Exception | None = None
        self.stage = "mail"
        """The step of the last transaction: where it stopped, when it failed."""

    @classmethod
    def take_over(
        cls, client: aiosmtplib.SMTP, timeout_s: float, *, pipelining: bool = True
    ) -> SmtpSession:
        """Carry on the connection `client` opened (after EHLO, and STARTTLS and AUTH when
        configured); `client` must not be used afterwards. `pipelining=False` sends one
        command at a time even where the server offers PIPELINING."""
        # Not an isinstance check: uvloop's transports are not asyncio.Transport instances.
        transport = cast(asyncio.WriteTransport | None, client.transport)
        if transport is None or transport.is_closing():
            raise aiosmtplib.SMTPServerDisconnected("the connection closed during its setup")
        extensions = dict(client.esmtp_extensions)
        if not pipelining:
            extensions.pop("pipelining", None)
        session = cls(transport, extensions, timeout_s)
        transport.set_protocol(session)
        return session

    @property
    def is_connected(self) -> bool:
        return self._lost is None and not self._transport.is_closing()

    def supports(self, extension: str) -> bool:
        return extension.lower() in self.extensions

    # --- the transaction ------------------------------------------------------------------

    async def transaction(
        self, mail: bytes, recipients: list[bytes], content: bytes
    ) -> aiosmtplib.SMTPResponse:
        """MAIL FROM:`mail`, RCPT TO: each of `recipients`, DATA, the content; the final reply.

        Each wait for the server (the pipelined commands' replies together, or one command's,
        then the content's) has `timeout_s`; one deadline is moved forward,
        rather than a timer per reply. When this raises, `stage` names the step under way
        ("mail", "rcpt", "data", `CONTENT`): only from `CONTENT` on may the server have the
        message. A refused recipient fails the whole message; if the server has said 354 all
        the same, the transaction cannot be taken back, and the connection is closed instead.
        """
        commands = [b"MAIL FROM:" + mail, *(b"RCPT TO:" + r for r in recipients), b"DATA"]
        if any(_CONTROL.search(command) for command in commands):
            raise ValueError("an SMTP command argument contains a control character")
        lines = [command + b"\r\n" for command in commands]
        self.stage = "mail"
        loop, timeout_s = asyncio.get_running_loop(), self.timeout_s
        async with asyncio.timeout(timeout_s) as deadline:
            if self.supports("pipelining"):
                self._send(b"".join(lines), len(lines))
                replies = [await self.reply() for _ in lines]
            else:
                replies = []
                for index, line in enumerate(lines):
                    last = index == len(lines) - 1
                    self.stage = "mail" if index == 0 else "data" if last else "rcpt"
                    deadline.reschedule(loop.time() + timeout_s)
                    self._send(line, 1)
                    replies.append(reply := await self.reply())
                    if reply.code not in _ACCEPTED:
                        break
            self._check(replies, mail, recipients)
            self.stage = CONTENT
            deadline.reschedule(loop.time() + timeout_s)
            self._send(data_content(content), 1)
            final = await self.reply()
        if final.code != SMTPStatus.completed:
            raise aiosmtplib.SMTPDataError(final.code, final.message)
        return final

    def _check(
        self, replies: list[aiosmtplib.SMTPResponse], mail: bytes, recipients: list[bytes]
    ) -> None:
        """Raise for the first refusal among the replies to MAIL, RCPT... and DATA."""
        refused: Exception | None = None
        if replies[0].code != SMTPStatus.completed:
            self.stage = "mail"
            refused = aiosmtplib.SMTPSenderRefused(replies[0].code, replies[0].message, _text(mail))
        else:
            for recipient, reply in zip(recipients, replies[1:], strict=False):
                if reply.code not in _ACCEPTED:
                    self.stage = "rcpt"
                    refused = aiosmtplib.SMTPRecipientRefused(
                        reply.code, reply.message, _text(recipient)
                    )
                    break
        if refused is not None:
            if replies[-1].code == SMTPStatus.start_input:
                self.close()  # the server waits for content we will not send
            raise refused
        self.stage = "data"
        if replies[-1].code != SMTPStatus.start_input:
            raise aiosmtplib.SMTPDataError(replies[-1].code, replies[-1].message)

    async def command(self, line: bytes) -> aiosmtplib.SMTPResponse:
        """One command (RSET, NOOP, QUIT), one reply."""
        self._send(line + b"\r\n", 1)
        async with asyncio.timeout(self.timeout_s):
            return await self.reply()

    async def quit(self) -> None:
        try:
            await self.command(b"QUIT")
        finally:
            self.close()

    def close(self) -> None:
        self._transport.close()
        self._lose(aiosmtplib.SMTPServerDisconnected("the connection was closed"))

    # --- reading and writing --------------------------------------------------------------

    def _send(self, data: bytes, replies: int) -> None:
        if not self.is_connected:
            raise self._lost or aiosmtplib.SMTPServerDisconnected("the connection was closed")
        self._expected += replies
        self._transport.write(data)

    async def reply(self) -> aiosmtplib.SMTPResponse:
        """The next reply, in the order the commands were written."""
        while not self._replies:
            if self._lost is not None:
                raise self._lost
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._replies.popleft()

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        try:
            while (reply := self._parse_one()) is not None:
                if self._expected == 0:  # e.g. 421 while idle: the server is going away
                    raise aiosmtplib.SMTPServerDisconnected(f"unsolicited reply: {reply}")
                self._expected -= 1
                self._replies.append(reply)
            if len(self._buffer) > MAX_PENDING:
                raise aiosmtplib.SMTPResponseException(-1, "Response too long")
        except aiosmtplib.SMTPException as exc:
            self._transport.close()
            self._lose(exc)
            return
        self._wake()

    def _parse_one(self) -> aiosmtplib.SMTPResponse | None:
        """Take one complete (possibly multi-line) reply off the buffer, if there is one."""
        buffer, offset, lines = self._buffer, 0, []
        while (end := buffer.find(b"\n", offset)) != -1:
            line = bytes(buffer[offset : end + 1])
            if len(line) > MAX_LINE:
                raise aiosmtplib.SMTPResponseException(-1, "Response too long")
            code = line[:3]
            if not code.isdigit() or line[3:4] not in (b" ", b"-", b"\r", b"\n"):
                shown = line.decode("utf-8", "replace").strip()
                raise aiosmtplib.SMTPResponseException(-1, f"Malformed SMTP reply: {shown}")
            offset = end + 1
            lines.append(line[4:].strip(b" \t\r\n"))
            if line[3:4] != b"-":
                del buffer[:offset]
                message = b"\n".join(lines).decode("utf-8", "surrogateescape")
                return aiosmtplib.SMTPResponse(int(code), message)
        if len(buffer) - offset > MAX_LINE:
            raise aiosmtplib.SMTPResponseException(-1, "Response too long")
        return None

    def eof_received(self) -> bool:
        self._lose(aiosmtplib.SMTPServerDisconnected("the server closed the connection"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        lost = aiosmtplib.SMTPServerDisconnected("connection lost")
        lost.__cause__ = exc
        self._lose(lost)

    def _lose(self, exc: Exception) -> None:
        if self._lost is None:
            self._lost = exc
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


def data_content(message: bytes) -> bytes:
    """The message as DATA carries it: CRLF line ends, leading dots doubled (RFC 5321
    4.5.2), and the terminating dot. Messages written with CRLF already (ours) skip the
    regular expression."""
    if not message.count(b"\r") == message.count(b"\n") == message.count(b"\r\n"):
        message = normalize_message_line_endings(message)
    elif not message.endswith(b"\r\n"):
        message += b"\r\n"
    message = message.replace(b"\n.", b"\n..")
    if message.startswith(b"."):
        message = b"." + message
    return message + b".\r\n"


def _text(argument: bytes) -> str:
    return argument.decode("utf-8", "replace").removeprefix("<").split(">", 1)[0]
