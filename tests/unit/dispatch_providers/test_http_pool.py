"""The SMS adapter's HTTP client against real sockets: a scripted loopback server that answers
with the bytes each test gives, so that keep-alive, framing and failures are exercised as they
come over the wire."""

from __future__ import annotations

import asyncio
import random
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
import uvloop

from services.dispatch.providers.http_pool import (
    ConnectError,
    ConnectionLost,
    HttpPool,
    form_encode,
)
from tests.support.certificates import self_signed
from tests.support.ingest_process import free_port

OK = (
    b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n"
    b'{"sid":"1"}'
)


@dataclass
class Scripted:
    """A loopback HTTP server: `answer(request bytes)` gives the raw answer (None: say nothing
    and keep the connection open). Counts connections and the most open at once."""

    answer: Callable[[bytes], bytes | None] = lambda request: OK
    close_after: bool = False
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    requests: list[bytes] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                request = head + await reader.readexactly(length)
                self.requests.append(request)
                await asyncio.sleep(0.005)  # requests overlap, as with a real provider
                answer = self.answer(request)
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
            self.open_now -= 1
            writer.close()


@asynccontextmanager
async def serving(script: Scripted, tls: ssl.SSLContext | None = None) -> AsyncIterator[str]:
    server = await asyncio.start_server(script.handle, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}/base"
    finally:
        server.close()


def pool(url: str, **options: object) -> HttpPool:
    settings: dict[str, object] = {
        "max_connections": 4,
        "timeout_s": 2.0,
        "connect_timeout_s": 1.0,
        "headers": {"Authorization": "Basic abc"},
    }
    settings.update(options)
    return HttpPool(url, **settings)  # type: ignore[arg-type]


async def test_requests_reuse_a_few_connections_and_say_what_they_should() -> None:
    script = Scripted()
    async with serving(script) as url:
        client = pool(url)
        answers = await asyncio.gather(
            *(
                client.request(
                    "POST", "/Messages.json", body=b"To=%2B1&Body=hi", headers={"K": f"{n}"}
                )
                for n in range(40)
            )
        )
        await client.close()
    assert {a.status for a in answers} == {201}
    assert answers[0].reason == "Created" and answers[0].body == b'{"sid":"1"}'
    assert answers[0].headers["content-type"] == "application/json"
    assert script.connections <= 4 and script.most_open <= 4
    first = script.requests[0]
    assert first.startswith(b"POST /base/Messages.json HTTP/1.1\r\n")
    assert b"\r\nHost: 127.0.0.1:" in first and b"\r\nAuthorization: Basic abc\r\n" in first
    assert b"\r\nContent-Length: 15\r\n\r\nTo=%2B1&Body=hi" in first
    assert sorted(r.split(b"\r\nK: ")[1].split(b"\r\n")[0] for r in script.requests) == sorted(
        str(n).encode() for n in range(40)
    )


async def test_the_host_header_names_the_host_and_never_credentials_in_the_url() -> None:
    script = Scripted()
    async with serving(script) as url:
        client = pool(url.replace("http://", "http://user:secret@"))
        await client.request("GET", "/")
        await client.close()
    port = url.rsplit(":", 1)[1].split("/")[0]
    assert f"\r\nHost: 127.0.0.1:{port}\r\n".encode() in script.requests[0]
    assert b"secret" not in script.requests[0]


async def test_a_query_is_encoded_and_a_get_has_no_body() -> None:
    script = Scripted()
    async with serving(script) as url:
        client = pool(url)
        await client.request("GET", "/Messages.json", query={"To": "+49 1", "PageSize": "50"})
        await client.close()
    assert script.requests[0].startswith(b"GET /base/Messages.json?To=%2B49+1&PageSize=50 HTTP/1.1")
    assert b"Content-Length" not in script.requests[0]


async def test_chunked_answers_and_repeated_headers() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nVia: a\r\nVia: b\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    async with serving(Scripted(answer=lambda _: chunked)) as url:
        client = pool(url)
        first = await client.request("GET", "/")
        second = await client.request("GET", "/")  # the same connection, parsed afresh
        await client.close()
    assert first.body == second.body == b"hello world"
    assert first.headers["via"] == "a, b"


async def test_interim_answers_are_passed_over() -> None:
    interim = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
    async with serving(Scripted(answer=lambda _: interim + OK)) as url:
        client = pool(url)
        answer = await client.request("POST", "/", body=b"x")
        await client.close()
    assert (answer.status, answer.body) == (201, b'{"sid":"1"}')
    assert "link" not in answer.headers


async def test_an_answer_too_large_to_keep_is_refused() -> None:
    huge = b"HTTP/1.1 200 OK\r\nContent-Length: 20000000\r\n\r\n" + b"x" * 11_000_000
    async with serving(Scripted(answer=lambda _: huge)) as url:
        with pytest.raises(ConnectionLost, match="over"):
            await pool(url, timeout_s=10.0).request("GET", "/")


async def test_an_answer_that_closes_the_connection_is_read_to_its_end() -> None:
    until_close = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it"
    script = Scripted(answer=lambda _: until_close, close_after=True)
    async with serving(script) as url:
        client = pool(url)
        answers = [await client.request("GET", "/") for _ in range(3)]
        await client.close()
    assert [a.body for a in answers] == [b"all of it"] * 3
    assert script.connections == 3, "not kept alive: a new connection each time"


async def test_connections_the_server_closed_while_idle_are_replaced() -> None:
    script = Scripted(close_after=True)  # keeps nothing alive, though it says nothing of it
    async with serving(script) as url:
        client = pool(url)
        for _ in range(3):
            assert (await client.request("GET", "/")).status == 201
            await asyncio.sleep(0.05)  # the close arrives while the connection is idle
        await client.close()
    assert script.connections == 3


async def test_no_answer_in_time_is_a_timeout_and_the_connection_is_not_reused() -> None:
    answers = iter([None, OK])
    script = Scripted(answer=lambda _: next(answers))
    async with serving(script) as url:
        client = pool(url, timeout_s=0.3, connect_timeout_s=0.3)
        with pytest.raises(TimeoutError):
            await client.request("POST", "/", body=b"x")
        assert (await client.request("POST", "/", body=b"x")).status == 201
        await client.close()
    assert script.connections == 2, "the late answer must not be read as the next one's"


async def test_a_server_that_is_not_there_is_a_connect_error() -> None:
    client = pool(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ConnectError, match="cannot connect"):
        await client.request("GET", "/")


async def test_a_connection_dropped_before_the_answer_is_lost_not_refused() -> None:
    script = Scripted(
        answer=lambda _: b"HTTP/1.1 201 Created\r\nContent-Length: 50\r\n\r\n{", close_after=True
    )
    async with serving(script) as url:
        with pytest.raises(ConnectionLost):
            await pool(url).request("POST", "/", body=b"x")


async def test_an_answer_that_is_not_http_is_a_lost_connection() -> None:
    async with serving(Scripted(answer=lambda _: b"SSH-2.0-OpenSSH_9.6\r\n")) as url:
        with pytest.raises(ConnectionLost, match="not an HTTP answer"):
            await pool(url).request("GET", "/")


def test_forms_are_encoded_exactly_as_the_standard_library_encodes_them() -> None:
    rng = random.Random(7)
    alphabet = [chr(c) for c in range(128)] + list("éüß€中😀\u2028\ufeff")
    for _ in range(3000):
        fields = {
            "".join(rng.choices(alphabet, k=rng.randint(1, 8))): "".join(
                rng.choices(alphabet, k=rng.randint(0, 200))
            )
            for _ in range(rng.randint(1, 4))
        }
        encoded = form_encode(fields)
        assert encoded == urlencode(fields).encode()
        assert parse_qsl(encoded.decode(), keep_blank_values=True) == list(fields.items())


def test_header_values_cannot_smuggle_lines() -> None:
    with pytest.raises(ValueError, match="one line"):
        pool("http://127.0.0.1:1", headers={"X": "a\r\nInjected: yes"})
    with pytest.raises(ValueError, match="http"):
        pool("ftp://example.com")


async def test_https_is_verified(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)
    async with serving(Scripted(), tls=server_side) as url:
        trusting = ssl.create_default_context(cafile=str(cert))
        client = pool(url, ssl_context=trusting)
        assert (await client.request("GET", "/")).status == 201
        await client.close()
        with pytest.raises(ConnectError, match="SSLCertVerificationError"):
            await pool(url).request("GET", "/")  # the system's authorities do not know it


def test_it_runs_on_uvloop_too() -> None:
    """On any event loop: uvloop's transports (uvicorn's loop) are not asyncio.Transport
    instances, and a check for one failed every SMS there."""

    async def two_requests() -> tuple[int, int]:
        script = Scripted()
        async with serving(script) as url:
            client = pool(url)
            first = await client.request("GET", "/")
            second = await client.request("GET", "/")
            await client.close()
        assert script.connections == 1
        return first.status, second.status

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(two_requests()) == (201, 201)
