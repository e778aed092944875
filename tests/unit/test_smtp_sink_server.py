"""The sink's block-reading SMTP server answers and records exactly what stock aiosmtpd does.

Both servers run side by side on real sockets; each conversation goes to both, sent in the
chunks the test gives (terminators split across writes included), and their answers and the
recorded envelopes must be equal.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from email._header_value_parser import get_angle_addr
from email.errors import HeaderParseError
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from deploy.local.sinks.smtp_server import _PLAIN, BlockDataController, parse_address
from tests.support.ingest_process import free_port


@dataclass
class Recorder:
    envelopes: list[tuple[str | None, list[str], bytes | None]] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.envelopes.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 recorded"


@dataclass
class Server:
    port: int
    recorder: Recorder


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[Server, Server]]:
    started: list[Controller] = []
    pair: list[Server] = []
    for kind in (Controller, BlockDataController):
        recorder = Recorder()
        port = free_port()
        options: dict[str, Any] = {"data_size_limit": 20_000, "enable_SMTPUTF8": True}
        controller = kind(recorder, hostname="127.0.0.1", port=port, **options)
        controller.start()
        started.append(controller)
        pair.append(Server(port, recorder))
    yield pair[0], pair[1]
    for controller in started:
        controller.stop()


Write = tuple[bytes, int]
"""Bytes to send, and how many answers the server gives once they are in."""


async def converse(port: int, writes: list[Write]) -> list[bytes]:
    """Send each write (reading the answer after those that expect one) and gather answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await _reply(reader)  # the greeting names the host
    answers = []
    for data, answered in writes:
        writer.write(data)
        await writer.drain()
        for _ in range(answered):
            answers.append(await _reply(reader))
    writer.close()
    return answers


async def _reply(reader: asyncio.StreamReader) -> bytes:
    lines = []
    while True:
        line = await asyncio.wait_for(reader.readline(), 5)
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return b"".join(lines)


def commands(*lines: bytes) -> list[Write]:
    return [(line, 1) for line in lines]


def transaction(content: bytes, *, split: int | None = None) -> list[Write]:
    """EHLO, MAIL, RCPT, DATA and the content with its terminator, optionally sent in pieces
    of `split` bytes (terminators and line ends split across writes)."""
    head = commands(b"EHLO client\r\n", b"MAIL FROM:<shop@example.com> SIZE=10\r\n")
    head += commands(b"RCPT TO:<ada@example.org>\r\n", b"DATA\r\n")
    body = content + b".\r\n"
    step = split or len(body)
    pieces = [body[i : i + step] for i in range(0, len(body), step)]
    return [*head, *((piece, 0) for piece in pieces[:-1]), (pieces[-1], 1)]


async def both(servers: tuple[Server, Server], writes: list[Write]) -> list[bytes]:
    stock, ours = servers
    expected = await converse(stock.port, writes)
    answers = await converse(ours.port, writes)
    assert answers == expected
    assert ours.recorder.envelopes == stock.recorder.envelopes
    return answers


LONG_LINES = b"".join(b"line %04d " % n + b"x" * 70 + b"\r\n" for n in range(200))
CASES = {
    "plain": b"Subject: hi\r\n\r\nHello Ada.\r\nThanks.\r\n",
    "empty": b"",
    "dots": b"..starts with a dot\r\n..\r\nmiddle ...\r\n...\r\nend.\r\n",
    "bare line feeds": b"Subject: x\n\none\ntwo\r\n",
    "over the reader's limit": LONG_LINES,
    "a line of 999 bytes": b"a" * 997 + b"\r\n",
    "utf-8": "Subject: café\r\n\r\nÇa va? 👋\r\n".encode(),
}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("split", [None, 1, 7, 1000])
async def test_messages_are_received_as_stock_aiosmtpd_receives_them(
    servers: tuple[Server, Server], name: str, split: int | None
) -> None:
    if split == 1 and len(CASES[name]) > 2000:
        split = 3  # bytes one at a time: slow for no more coverage
    answers = await both(servers, transaction(CASES[name], split=split))
    assert answers[-1] == b"250 recorded\r\n"


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(b"a" * 1000 + b"\r\nnext\r\n", id="a line over 1001 bytes"),
        pytest.param(b"Subject: x\r\n\r\n" + LONG_LINES * 2, id="over the size limit"),
        pytest.param(b"a" * 1000 + b"\r\n" + LONG_LINES * 2, id="both"),
    ],
)
async def test_refusals_come_after_the_whole_message_and_the_connection_goes_on(
    servers: tuple[Server, Server], content: bytes
) -> None:
    again = commands(b"MAIL FROM:<shop@example.com>\r\n", b"RCPT TO:<bo@example.org>\r\n")
    again += commands(b"DATA\r\n", b"Subject: next\r\n\r\nfine\r\n.\r\n")
    answers = await both(servers, [*transaction(content, split=1500), *again])
    assert answers[4][:3] in (b"500", b"552")
    assert answers[-1] == b"250 recorded\r\n"


async def test_pipelined_commands_are_answered_in_order_as_stock_aiosmtpd_answers_them(
    servers: tuple[Server, Server],
) -> None:
    """The sink offers PIPELINING (RFC 2920): MAIL, RCPT and DATA arrive in one write, and
    refusals among them leave the connection in step for the next transaction."""
    group = b"MAIL FROM:<shop@example.com>\r\nRCPT TO:<ada@example.org>\r\nDATA\r\n"
    refused = b"MAIL FROM:<shop@example.com>\r\nRCPT TO:\r\nDATA\r\n"
    no_mail = b"RCPT TO:<ada@example.org>\r\nDATA\r\n"
    conversation: list[Write] = [
        (b"EHLO client\r\n", 1),
        (group, 3),
        (b"Subject: one\r\n\r\nfirst\r\n.\r\n", 1),
        (refused, 3),
        (b"RSET\r\n", 1),
        (no_mail, 2),
        (group, 3),
        (b"Subject: two\r\n\r\nsecond\r\n.\r\n", 1),
    ]
    answers = await both(servers, conversation)
    assert [a[:3] for a in answers[1:4]] == [b"250", b"250", b"354"]
    assert [a[:3] for a in answers[5:8]] == [b"250", b"501", b"503"]
    assert [a[:3] for a in answers[9:11]] == [b"503", b"503"]
    assert answers[-1] == b"250 recorded\r\n"
    assert [envelope[2] for envelope in servers[1].recorder.envelopes[-2:]] == [
        b"Subject: one\r\n\r\nfirst\r\n",
        b"Subject: two\r\n\r\nsecond\r\n",
    ]


async def test_addresses_are_parsed_as_stock_aiosmtpd_parses_them(
    servers: tuple[Server, Server],
) -> None:
    conversation = commands(
        b"EHLO client\r\n",
        b"MAIL FROM:<>\r\n",
        b"RSET\r\n",
        b"MAIL FROM:shop@example.com SIZE=100\r\n",
        b"RCPT TO:<not an address>\r\n",
        b"RCPT TO:<" + b"l" * 70 + b"@example.org>\r\n",
        b'RCPT TO:<"quoted local"@example.org>\r\n',
        b"RCPT TO: <ada@example.org> NOTIFY=NEVER\r\n",
        b"RCPT TO:ada@example.org\r\n",
        b"DATA\r\n",
        b"hi\r\n.\r\n",
    )
    answers = await both(servers, conversation)
    assert answers[-1] == b"250 recorded\r\n"


def test_the_quick_address_parse_agrees_with_the_parser() -> None:
    alphabet = 'aZ9.@<> \t()"+-_=[]\\,;:é!'
    chance = random.Random(5)
    quick = 0
    for _ in range(5_000):
        noise = "".join(chance.choice(alphabet) for _ in range(chance.randint(0, 8)))
        user = chance.choice(["ada", "a.b", "x+y", "o'neil", ".a", "a..b", "a."])
        domain = chance.choice(["ex.org", "a-b.c", "x", "x.", "[127.0.0.1]", "é.org"])
        params = chance.choice(["", " SIZE=1000", "  BODY=8BITMIME SMTPUTF8 ", "\tX=(1)"])
        for arg in (f"<{user}@{domain}>{noise}", f"<{noise}", f"<{user}@{domain}>{params}"):
            try:
                expected = _parsed_by_the_library(arg)
            except Exception as crash:  # the library's parser fails on some input ("<")
                with pytest.raises(type(crash)):
                    parse_address(arg)
                continue
            assert parse_address(arg) == expected, arg
            quick += _PLAIN.fullmatch(arg) is not None
    assert quick > 1_000  # the quick path was taken, not only the parser


def _parsed_by_the_library(arg: str) -> tuple[str | None, str | None]:
    try:
        address, rest = get_angle_addr(arg)
    except HeaderParseError:
        return None, None
    return address.addr_spec, rest
