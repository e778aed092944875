"""`SmtpSession` against scripted servers on real sockets: what it writes, and when, and how
it reads replies however the server cuts them."""

from __future__ import annotations

import asyncio
import random
import re
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aiosmtplib
import pytest
from aiosmtplib.protocol import normalize_message_line_endings

from services.dispatch.providers.email import EmailSettings, SmtpSender, build_email
from services.dispatch.providers.smtp_session import CONTENT, SmtpSession, data_content

Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
EHLO = [b"250-relay.example", b"250-SIZE 1000000"]
MESSAGE = b"Subject: hi\r\n\r\nHello Ada.\r\n.a line with a dot\r\n"


@asynccontextmanager
async def scripted_server(script: Script, *, pipelining: bool = True) -> AsyncIterator[int]:
    """A server (its port) that greets, answers EHLO (offering PIPELINING or not) and then
    runs `script`; the script must have finished without error when the block ends."""
    failures: list[str] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(b"220 relay.example ESMTP\r\n")
            assert (await reader.readline()).startswith(b"EHLO ")
            offer = [*EHLO, b"250-PIPELINING"] if pipelining else EHLO
            writer.write(b"".join(line + b"\r\n" for line in offer) + b"250 HELP\r\n")
            await script(reader, writer)
            failures.append("")
        except Exception:  # reported by the test, as text: not lost in the server's task
            failures.append(traceback.format_exc())
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
        for _ in range(250):
            if failures:
                break
            await asyncio.sleep(0.02)
        assert failures == [""], "the server's script did not finish:\n" + "".join(failures)
    finally:
        server.close()
        await server.wait_closed()


@asynccontextmanager
async def session_with(
    script: Script, *, pipelining: bool = True, timeout_s: float = 5
) -> AsyncIterator[SmtpSession]:
    """A session opened by aiosmtplib on a `scripted_server`."""
    async with scripted_server(script, pipelining=pipelining) as port:
        client = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=5)
        await client.connect()
        session = SmtpSession.take_over(client, timeout_s)
        try:
            yield session
        finally:
            session.close()


async def read_lines(reader: asyncio.StreamReader, count: int) -> list[bytes]:
    return [await asyncio.wait_for(reader.readline(), 5) for _ in range(count)]


async def nothing_more(reader: asyncio.StreamReader) -> bool:
    """Whether the client has stopped writing (for now)."""
    try:
        await asyncio.wait_for(reader.read(1), 0.2)
    except TimeoutError:
        return True
    return False


async def answer_transaction(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, final: bytes
) -> None:
    """Accept one pipelined transaction (MAIL, RCPT, DATA, the content); answer it `final`."""
    await read_lines(reader, 3)
    writer.write(b"250 ok\r\n250 ok\r\n354 go\r\n")
    await reader.readuntil(b"\r\n.\r\n")
    writer.write(final)


async def write_in_pieces(writer: asyncio.StreamWriter, data: bytes, size: int) -> None:
    for start in range(0, len(data), size):
        writer.write(data[start : start + size])
        await writer.drain()
        await asyncio.sleep(0)


async def test_mail_rcpt_and_data_go_out_in_one_write_and_the_content_after_354() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        group = await read_lines(reader, 3)
        assert group == [
            b"MAIL FROM:<shop@example.com> SIZE=50\r\n",
            b"RCPT TO:<ada@example.org>\r\n",
            b"DATA\r\n",
        ]
        assert await nothing_more(reader), "the content came before the 354"
        writer.write(b"250 2.1.0 ok\r\n250 2.1.5 ok\r\n354 go ahead\r\n")
        content = await reader.readuntil(b"\r\n.\r\n")
        assert content == b"Subject: hi\r\n\r\nHello Ada.\r\n..a line with a dot\r\n.\r\n"
        writer.write(b"250 2.0.0 queued as 42\r\n")

    async with session_with(script) as session:
        reply = await session.transaction(
            b"<shop@example.com> SIZE=50", [b"<ada@example.org>"], MESSAGE
        )
    assert (reply.code, reply.message) == (250, "2.0.0 queued as 42")


async def one_command_at_a_time(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    for line, answer in [
        (b"MAIL FROM:<shop@example.com>", b"250 ok\r\n"),
        (b"RCPT TO:<ada@example.org>", b"250 ok\r\n"),
        (b"RCPT TO:<bo@example.org>", b"251 will forward\r\n"),
        (b"DATA", b"354 go ahead\r\n"),
    ]:
        [received] = await read_lines(reader, 1)
        assert received.startswith(line), (received, line)
        assert await nothing_more(reader), f"more was written before the reply to {line!r}"
        writer.write(answer)
    await reader.readuntil(b"\r\n.\r\n")
    writer.write(b"250 queued\r\n")


async def test_without_pipelining_each_command_waits_for_its_reply() -> None:
    async with session_with(one_command_at_a_time, pipelining=False) as session:
        rcpts = [b"<ada@example.org>", b"<bo@example.org>"]
        reply = await session.transaction(b"<shop@example.com>", rcpts, MESSAGE)
    assert reply.code == 250


async def test_the_sender_can_be_told_not_to_pipeline() -> None:
    """`NUDGE_SMTP_PIPELINING=false`: one command at a time although the relay offers it."""
    async with scripted_server(one_command_at_a_time, pipelining=True) as port:
        settings = EmailSettings(host="127.0.0.1", port=port, pipelining=False, timeout_s=5)
        sender = SmtpSender(settings)
        to = "ada@example.org, bo@example.org"
        message = build_email(
            sender="shop@example.com", to=to, subject="Hi", text="Hi.", message_id="<m1@x>"
        )
        try:
            result = await sender.send(message)
        finally:
            await sender.close()
    assert result.detail == "250 queued"


@pytest.mark.parametrize("piece", [1, 3, 1000])
async def test_replies_are_read_however_the_server_cuts_them(piece: int) -> None:
    """Multi-line replies, several replies in one segment, a reply split byte by byte."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for _ in range(2):
            await read_lines(reader, 3)
            answers = b"250-first\r\n250-second\r\n250 third\r\n250 ok\r\n354 go\r\n"
            await write_in_pieces(writer, answers, piece)
            await reader.readuntil(b"\r\n.\r\n")
            await write_in_pieces(writer, b"250-accepted\r\n250 as 7\r\n", piece)

    async with session_with(script) as session:
        for _ in range(2):
            reply = await session.transaction(b"<a@x.example>", [b"<b@x.example>"], MESSAGE)
            assert (reply.code, reply.message) == (250, "accepted\nas 7")


async def test_a_refused_sender_leaves_the_connection_in_step() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_lines(reader, 3)
        writer.write(b"451 4.3.2 try later\r\n503 need MAIL\r\n503 need RCPT\r\n")
        assert await read_lines(reader, 1) == [b"RSET\r\n"]
        writer.write(b"250 reset\r\n")
        await answer_transaction(reader, writer, b"250 queued\r\n")

    async with session_with(script) as session:
        with pytest.raises(aiosmtplib.SMTPSenderRefused) as caught:
            await session.transaction(b"<a@x.example>", [b"<b@x.example>"], MESSAGE)
        assert (caught.value.code, session.stage) == (451, "mail")
        assert (await session.command(b"RSET")).code == 250
        reply = await session.transaction(b"<a@x.example>", [b"<b@x.example>"], MESSAGE)
        assert reply.code == 250


async def test_a_refused_recipient_after_354_closes_the_connection_without_the_content() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_lines(reader, 4)
        writer.write(b"250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n354 go ahead\r\n")
        assert await reader.read() == b"", "content was sent for a refused recipient"

    async with session_with(script) as session:
        rcpts = [b"<ada@example.org>", b"<nobody@example.org>"]
        with pytest.raises(aiosmtplib.SMTPRecipientRefused) as caught:
            await session.transaction(b"<a@x.example>", rcpts, MESSAGE)
        assert (caught.value.code, caught.value.recipient) == (550, "nobody@example.org")
        assert session.stage == "rcpt"
        assert not session.is_connected


async def test_a_refused_message_is_a_data_error_once_the_content_went_out() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await answer_transaction(reader, writer, b"554 5.7.1 rejected as spam\r\n")

    async with session_with(script) as session:
        with pytest.raises(aiosmtplib.SMTPDataError) as caught:
            await session.transaction(b"<a@x.example>", [b"<b@x.example>"], MESSAGE)
        assert (caught.value.code, session.stage) == (554, CONTENT)
        assert session.is_connected


@pytest.mark.parametrize(
    ("answers", "stage"),
    [(b"", "mail"), (b"250 ok\r\n250 ok\r\n354 go\r\n", CONTENT)],
    ids=["no reply to the commands", "no reply to the content"],
)
async def test_a_silent_server_times_out_at_the_stage_it_reached(
    answers: bytes, stage: str
) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_lines(reader, 3)
        writer.write(answers)
        await reader.read()  # until the client gives up and closes

    async with session_with(script, timeout_s=0.3) as session:
        with pytest.raises(TimeoutError):
            await session.transaction(b"<a@x.example>", [b"<b@x.example>"], MESSAGE)
        assert session.stage == stage
        session.close()


@pytest.mark.parametrize(
    "answer",
    [b"hello there\r\n", b"2500 ok\r\n", b"250 " + b"x" * 9000 + b"\r\n", b"250-" + b"x" * 9000],
    ids=["not a reply", "a four-digit code", "a line too long", "too long, unfinished"],
)
async def test_a_server_that_does_not_speak_smtp_ends_the_session(answer: bytes) -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_lines(reader, 3)
        writer.write(answer)
        await reader.read()

    async with session_with(script) as session:
        with pytest.raises(aiosmtplib.SMTPResponseException) as caught:
            await session.transaction(b"<a@x.example>", [b"<b@x.example>"], MESSAGE)
        assert caught.value.code == -1
        assert not session.is_connected


async def test_a_reply_nobody_asked_for_ends_the_session() -> None:
    """A relay closing an idle connection says 421 first: the connection must not be reused,
    or the 421 would be taken as the answer to the next MAIL."""

    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.1)  # idle
        writer.write(b"421 4.4.2 idle too long, closing\r\n")
        await reader.read()

    async with session_with(script) as session:
        for _ in range(50):
            if not session.is_connected:
                break
            await asyncio.sleep(0.02)
        assert not session.is_connected
        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            await session.transaction(b"<a@x.example>", [b"<b@x.example>"], MESSAGE)
        session.close()


async def test_a_connection_closed_by_the_server_is_a_disconnection() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_lines(reader, 3)
        writer.write(b"250 ok\r\n")  # then the server goes away

    async with session_with(script) as session:
        with pytest.raises(aiosmtplib.SMTPServerDisconnected):
            await session.transaction(b"<a@x.example>", [b"<b@x.example>"], MESSAGE)
        assert session.stage == "mail"
        assert not session.is_connected


async def test_control_characters_in_an_argument_are_refused_before_anything_is_written() -> None:
    async def script(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert await reader.read() == b""

    async with session_with(script) as session:
        with pytest.raises(ValueError, match="control character"):
            await session.transaction(
                b"<a@x.example>", [b"<b@x.example>\r\nRCPT TO:<c@x.example>"], MESSAGE
            )
        session.close()


def test_data_content_is_what_aiosmtplib_would_send() -> None:
    """The fast path (CRLF already) and the slow one agree with aiosmtplib's own
    normalisation and dot-stuffing, on messages built from awkward pieces."""
    pieces = [b"a", b".", b"..", b"\r\n", b"\n", b"\r", b"\r\r\n", b" ", b"x.y", b"\xc3\xa9"]
    rng = random.Random(5)
    messages = [b"", b".", b"\r\n", MESSAGE, MESSAGE.replace(b"\r\n", b"\n")]
    messages += [b"".join(rng.choices(pieces, k=rng.randint(1, 30))) for _ in range(3000)]

    def aiosmtplibs(message: bytes) -> bytes:
        return re.sub(rb"(?m)^\.", b"..", normalize_message_line_endings(message)) + b".\r\n"

    differing = [m for m in messages if data_content(m) != aiosmtplibs(m)]
    assert differing[:3] == []
