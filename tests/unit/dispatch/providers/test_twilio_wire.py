"""The Twilio adapter against servers that misbehave on the wire (a scripted loopback socket
that answers with the bytes each test gives): what could have reached Twilio is told apart
from what could not, and a broken connection is never reused."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import pytest
import uvloop

from services.dispatch.providers.base import TransientSendError
from services.dispatch.providers.sms import MAX_ANSWER_BYTES, TwilioSms
from tests.support.twilio_api import twilio_settings

OK = (
    b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 34\r\n\r\n"
    b'{"sid":"SMaaaa","status":"queued"}'
)


@dataclass
class Scripted:
    """A loopback HTTP server: `answer(request number)` gives the raw answer (None: say nothing
    and keep the connection open). Counts connections and requests."""

    answer: Callable[[int], bytes | None] = lambda n: OK
    close_after: bool = False
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                self.requests.append(head + await reader.readexactly(length))
                answer = self.answer(len(self.requests))
                if answer is None:
                    await asyncio.sleep(3600)
                    continue
                writer.write(answer)
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def twilio_on(script: Scripted, **overrides: object) -> AsyncIterator[TwilioSms]:
    server = await asyncio.start_server(script.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sms = TwilioSms(twilio_settings(base_url=f"http://127.0.0.1:{port}", **overrides))
    try:
        yield sms
    finally:
        await sms.close()
        server.close()


async def send(sms: TwilioSms) -> TransientSendError:
    with pytest.raises(TransientSendError) as caught:
        await sms.send("+4915112345678", "Hi", idempotency_key="k")
    return caught.value


async def test_an_answer_cut_short_may_have_been_sent() -> None:
    cut = b"HTTP/1.1 201 Created\r\nContent-Length: 50\r\n\r\n{"
    async with twilio_on(Scripted(answer=lambda n: cut, close_after=True)) as sms:
        failure = await send(sms)
    assert failure.maybe_sent
    assert failure.reason.startswith("connection")


async def test_an_answer_that_is_not_http_may_have_been_sent() -> None:
    async with twilio_on(Scripted(answer=lambda n: b"SSH-2.0-OpenSSH_9.6\r\n\r\n")) as sms:
        failure = await send(sms)
    assert failure.maybe_sent


async def test_an_answer_too_large_to_keep_is_refused() -> None:
    size = MAX_ANSWER_BYTES + 1024
    huge = f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode() + b"x" * size
    async with twilio_on(Scripted(answer=lambda n: huge)) as sms:
        failure = await send(sms)
    assert failure.maybe_sent and str(MAX_ANSWER_BYTES) in failure.reason


async def test_a_late_answer_is_never_read_as_the_next_requests() -> None:
    script = Scripted(answer=lambda n: None if n == 1 else OK)
    # The timeout covers the second, answered request too: long enough for a loaded CI machine.
    async with twilio_on(script, timeout_s=2.0) as sms:
        failure = await send(sms)
        result = await sms.send("+4915112345678", "Hi", idempotency_key="k2")
    assert failure.maybe_sent and failure.reason.startswith("timeout")
    assert result.provider_id == "SMaaaa"
    assert script.connections == 2, "the timed-out connection must not be reused"


async def test_connections_the_server_closed_while_idle_are_replaced() -> None:
    script = Scripted(close_after=True)  # keeps nothing alive, though it says nothing of it
    async with twilio_on(script) as sms:
        for n in range(3):
            await sms.send("+4915112345678", "Hi", idempotency_key=str(n))
            await asyncio.sleep(0.05)  # the close arrives while the connection is idle
    assert script.connections == 3


def test_it_runs_on_uvloop_too() -> None:
    """On any event loop: uvloop's (uvicorn's loop) as well as asyncio's."""

    async def two() -> int:
        script = Scripted()
        async with twilio_on(script) as sms:
            await sms.send("+4915112345678", "Hi", idempotency_key="a")
            await sms.send("+4915112345678", "Hi", idempotency_key="b")
        return script.connections

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(two()) == 1
