"""The SMTP sink as a relay far away: every round trip takes at least its latency, pipelined
commands included; it records whether a session was under TLS, and accepts a repeated
Message-ID (a relay does not deduplicate) while counting it."""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiosmtplib
import pytest

from deploy.local.sinks.common import JsonLinesLog
from deploy.local.sinks.smtp_sink import SlowLinkController, SmtpSink
from services.dispatch.providers.email import build_email
from tests.support.certificates import self_signed
from tests.support.ingest_process import free_port

LATENCY_S = 0.15


@dataclass
class Running:
    sink: SmtpSink
    port: int
    ca: Path


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    cert, key = self_signed(tmp_path_factory.mktemp("smtp-tls"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    sink = SmtpSink(JsonLinesLog(None))
    port = free_port()
    controller = SlowLinkController(
        sink, latency=sink.latency_s, hostname="127.0.0.1", port=port, tls_context=context
    )
    controller.start()
    try:
        yield Running(sink, port, cert)
    finally:
        controller.stop()


@pytest.fixture(autouse=True)
def fast(smtp: Running) -> Iterator[None]:
    smtp.sink.latency_ms = 0
    yield
    smtp.sink.latency_ms = 0


def email(message_id: str) -> bytes:
    return build_email(
        sender="Demo Coffee <hello@demo-coffee.example>",
        to="anna@example.org",
        subject="Still thinking it over?",
        text="Hi Anna",
        message_id=message_id,
    ).as_bytes()


async def timed(step: Awaitable[object]) -> float:
    started = time.monotonic()
    await step
    return time.monotonic() - started


async def test_every_round_trip_takes_at_least_the_latency(smtp: Running) -> None:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=smtp.port, start_tls=False)
    await client.connect()
    smtp.sink.latency_ms = int(LATENCY_S * 1000)
    try:
        waits = {
            "EHLO": await timed(client.ehlo()),
            "MAIL": await timed(client.mail("hello@demo-coffee.example")),
            "RCPT": await timed(client.rcpt("anna@example.org")),
            "DATA, 354 and the content": await timed(client.data(email("slow-1@x.example"))),
            "NOOP": await timed(client.noop()),
            "RSET": await timed(client.rset()),
        }
    finally:
        smtp.sink.latency_ms = 0
        await client.quit()
    wanted = {step: LATENCY_S for step in waits} | {"DATA, 354 and the content": 2 * LATENCY_S}
    assert {step: wait >= wanted[step] for step, wait in waits.items()} == dict.fromkeys(
        waits, True
    ), waits


async def test_pipelined_commands_wait_the_latency_and_are_answered_in_order(
    smtp: Running,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", smtp.port)
    await reader.readline()  # the greeting
    writer.write(b"EHLO client\r\n")
    while (await reader.readline())[3:4] == b"-":
        pass
    smtp.sink.latency_ms = int(LATENCY_S * 1000)
    started = time.monotonic()
    writer.write(b"MAIL FROM:<hello@demo-coffee.example>\r\nRCPT TO:<anna@example.org>\r\nDATA\r\n")
    answers = [await reader.readline() for _ in range(3)]
    waited = time.monotonic() - started
    writer.write(email("piped-1@x.example") + b".\r\n")
    final = await reader.readline()
    writer.close()
    assert [a[:3] for a in answers] == [b"250", b"250", b"354"]
    assert final.startswith(b"250 ")
    assert waited >= LATENCY_S
    assert smtp.sink.messages[-1].message_id == "<piped-1@x.example>"


async def test_a_session_after_starttls_is_recorded_as_tls(smtp: Running) -> None:
    for start_tls, message_id in ((True, "tls-1@x.example"), (False, "plain-1@x.example")):
        await aiosmtplib.send(
            email(message_id),
            sender="hello@demo-coffee.example",
            recipients=["anna@example.org"],
            hostname="127.0.0.1",
            port=smtp.port,
            start_tls=start_tls,
            cert_bundle=str(smtp.ca) if start_tls else None,
        )
    by_id = {m.message_id: m.brief() for m in smtp.sink.messages}
    assert by_id["<tls-1@x.example>"]["tls"] is True
    assert by_id["<plain-1@x.example>"]["tls"] is False


async def test_a_repeated_message_id_is_accepted_and_counted_as_a_duplicate(
    smtp: Running,
) -> None:
    answers = []
    for _ in range(2):
        _, answer = await aiosmtplib.send(
            email("again-1@x.example"),
            sender="hello@demo-coffee.example",
            recipients=["anna@example.org"],
            hostname="127.0.0.1",
            port=smtp.port,
            start_tls=False,
        )
        answers.append(answer)
    assert all(answer.startswith("2.0.0 OK queued") for answer in answers), answers
    assert [m.message_id for m in smtp.sink.messages].count("<again-1@x.example>") == 1
    assert smtp.sink.duplicate_ids["<again-1@x.example>"] == 1
    first = next(m for m in smtp.sink.messages if m.message_id == "<again-1@x.example>")
    (second,) = smtp.sink.copies_at["<again-1@x.example>"]
    assert second >= first.received_at  # when the copy came, for a test to explain it
