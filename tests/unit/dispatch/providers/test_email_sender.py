"""`SmtpSender` against scripted relays on real sockets: which connection a message takes,
and what a failure at each step of the transaction is classified as."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from services.dispatch.providers.base import PermanentSendError, TransientSendError
from services.dispatch.providers.email import (
    ComposedEmail,
    EmailSettings,
    SmtpSender,
    build_email,
)
from tests.support.clocks import PinnedClock

SILENT = b""
"""A reply the relay never gives."""
CLOSE = b"close"
"""The relay closes the connection instead of replying."""

Step = tuple[bytes, bytes]
"""(what the client's line starts with, the relay's reply); b"." is the content."""

DELIVER: list[Step] = [
    (b"MAIL FROM:", b"250 ok"),
    (b"RCPT TO:", b"250 ok"),
    (b"DATA", b"354 go ahead"),
    (b".", b"250 queued"),
]


@dataclass
class Relay:
    port: int
    lines: list[list[bytes]] = field(default_factory=list)
    """What each connection received, one list per connection (content lines left out)."""


@asynccontextmanager
async def scripted_relay(
    *connections: Sequence[Step], extensions: Sequence[bytes] = (b"SIZE 1000000",)
) -> AsyncIterator[Relay]:
    """A relay whose n-th connection greets, answers EHLO and then follows `connections[n]`,
    and answers any command left over with 500."""
    scripts = list(connections)
    relay = Relay(0)

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        script = list(scripts.pop(0)) if scripts else []
        seen: list[bytes] = []
        relay.lines.append(seen)
        writer.write(b"220 relay.example ESMTP\r\n")
        try:
            assert (await reader.readline()).startswith(b"EHLO ")
            offer = [b"relay.example", *extensions]
            writer.write(b"".join(b"250-" + e + b"\r\n" for e in offer) + b"250 HELP\r\n")
            while line := await reader.readline():
                seen.append(line.rstrip(b"\r\n"))
                expected, reply = script.pop(0) if script else (b"", b"500 unexpected")
                assert line.startswith(expected), (line, expected)
                if expected == b"DATA" and reply.startswith(b"354"):
                    writer.write(reply + b"\r\n")
                    await reader.readuntil(b"\r\n.\r\n")
                    expected, reply = script.pop(0)
                    seen.append(b".")
                if reply == CLOSE:
                    break
                if reply != SILENT:
                    writer.write(reply + b"\r\n")
                else:
                    await reader.read()  # until the client gives up
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    relay.port = server.sockets[0].getsockname()[1]
    try:
        yield relay
    finally:
        server.close()


def email(n: int = 1, *, to: str = "ada@example.org") -> ComposedEmail:
    return build_email(
        sender="Shop <shop@example.com>",
        to=to,
        subject="Hi",
        text=f"Hello {n}.\n.a line with a dot\n",
        message_id=f"m{n}@example.com",
    )


def sender_for(relay: Relay, clock: PinnedClock | None = None, **settings: object) -> SmtpSender:
    options: dict[str, object] = {"timeout_s": 5, "pool_size": 1, **settings}
    return SmtpSender(EmailSettings(port=relay.port, **options), clock=clock)  # type: ignore[arg-type]


async def test_one_connection_carries_message_after_message() -> None:
    async with scripted_relay([*DELIVER, *DELIVER, (b"QUIT", b"221 bye")]) as relay:
        sender = sender_for(relay)
        first, second = await sender.send(email(1)), await sender.send(email(2))
        await sender.close()
    assert (first.provider_id, first.detail) == ("<m1@example.com>", "250 queued")
    assert second.provider_id == "<m2@example.com>"
    (lines,) = relay.lines
    assert lines[:2] == [
        b"MAIL FROM:<shop@example.com> SIZE=%d" % len(email(1).payload),
        b"RCPT TO:<ada@example.org>",
    ]
    assert lines[-1] == b"QUIT"


async def test_a_connection_idle_for_a_while_is_probed_with_noop_first() -> None:
    clock = PinnedClock(datetime(2026, 12, 7, tzinfo=UTC))
    async with scripted_relay([*DELIVER, (b"NOOP", b"250 ok"), *DELIVER]) as relay:
        sender = sender_for(relay, clock)
        await sender.send(email(1))
        clock.advance(20)
        await sender.send(email(2))
    assert [line[:4] for line in relay.lines[0]][4:6] == [b"NOOP", b"MAIL"]


async def test_a_connection_that_fails_its_probe_is_replaced() -> None:
    clock = PinnedClock(datetime(2026, 12, 7, tzinfo=UTC))
    async with scripted_relay([*DELIVER, (b"NOOP", CLOSE)], DELIVER) as relay:
        sender = sender_for(relay, clock)
        await sender.send(email(1))
        clock.advance(20)
        await sender.send(email(2))
    assert len(relay.lines) == 2 and relay.lines[1][-1] == b"."


@pytest.mark.parametrize("dead", [CLOSE, b"421 4.4.2 idle too long, closing"])
async def test_a_reused_connection_dead_at_mail_is_replaced_and_the_message_sent(
    dead: bytes,
) -> None:
    async with scripted_relay([*DELIVER, (b"MAIL", dead)], DELIVER) as relay:
        sender = sender_for(relay)
        await sender.send(email(1))
        result = await sender.send(email(2))
    assert result.provider_id == "<m2@example.com>"
    assert len(relay.lines) == 2


async def test_a_fresh_connection_dead_at_mail_is_not_tried_again() -> None:
    async with scripted_relay([(b"MAIL", CLOSE)], DELIVER) as relay:
        sender = sender_for(relay)
        with pytest.raises(TransientSendError) as caught:
            await sender.send(email(1))
    assert not caught.value.maybe_sent
    assert len(relay.lines) == 1


async def test_a_relay_that_goes_quiet_after_the_content_may_have_the_message() -> None:
    async with scripted_relay([*DELIVER[:3], (b".", SILENT)]) as relay:
        sender = sender_for(relay, timeout_s=0.3)
        with pytest.raises(TransientSendError) as caught:
            await sender.send(email(1))
    assert (caught.value.reason, caught.value.maybe_sent) == ("timeout at data", True)


async def test_a_connection_lost_after_the_content_may_have_the_message() -> None:
    async with scripted_relay([*DELIVER[:3], (b".", CLOSE)]) as relay:
        sender = sender_for(relay)
        with pytest.raises(TransientSendError) as caught:
            await sender.send(email(1))
    assert caught.value.maybe_sent and caught.value.reason.startswith("connection at data")


async def test_a_relay_that_goes_quiet_at_mail_does_not_have_the_message() -> None:
    async with scripted_relay([(b"MAIL", SILENT)]) as relay:
        sender = sender_for(relay, timeout_s=0.3)
        with pytest.raises(TransientSendError) as caught:
            await sender.send(email(1))
    assert (caught.value.reason, caught.value.maybe_sent) == ("timeout at mail", False)


async def test_a_refused_message_is_permanent_and_the_connection_is_reset_and_kept() -> None:
    refused = [*DELIVER[:3], (b".", b"554 5.7.1 looks like spam"), (b"RSET", b"250 ok")]
    async with scripted_relay([*refused, *DELIVER]) as relay:
        sender = sender_for(relay)
        with pytest.raises(PermanentSendError) as caught:
            await sender.send(email(1))
        await sender.send(email(2))
    assert (caught.value.code, caught.value.maybe_sent) == (554, False)
    assert len(relay.lines) == 1


async def test_a_refused_recipient_is_permanent_and_nothing_more_is_sent() -> None:
    steps = [(b"MAIL", b"250 ok"), (b"RCPT", b"550 5.1.1 no such user"), (b"RSET", b"250 ok")]
    async with scripted_relay(steps) as relay:
        sender = sender_for(relay)
        with pytest.raises(PermanentSendError) as caught:
            await sender.send(email(1, to="nobody@example.org"))
    assert caught.value.reason.startswith("smtp 550 at rcpt")
    assert b"DATA" not in relay.lines[0]


async def test_a_non_ascii_address_needs_a_relay_with_smtputf8() -> None:
    async with scripted_relay([]) as plain:
        with pytest.raises(PermanentSendError, match="SMTPUTF8"):
            await sender_for(plain).send(email(to="jürgen@example.de"))
    assert plain.lines == [[]]
    async with scripted_relay(DELIVER, extensions=[b"SMTPUTF8"]) as utf8:
        await sender_for(utf8).send(email(to="jürgen@example.de"))
    assert utf8.lines[0][0] == b"MAIL FROM:<shop@example.com> SMTPUTF8"
    assert utf8.lines[0][1] == "RCPT TO:<jürgen@example.de>".encode()


async def test_an_envelope_address_no_command_can_carry_is_refused_before_connecting() -> None:
    async with scripted_relay([]) as relay:
        sender = sender_for(relay)
        with pytest.raises(PermanentSendError, match="invalid envelope address"):
            await sender.send(email(to='"ada lovelace"@example.org'))  # valid in a header
    assert relay.lines == []
