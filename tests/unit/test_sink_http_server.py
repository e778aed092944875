"""The sinks' HTTP/1.1 server on real sockets: requests written byte by byte as a client would
(pipelined, chunked, malformed), answers read off the wire, so framing, order and connection
handling are what is checked."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson
import pytest
import uvloop

from deploy.local.sinks.common import JsonLinesLog
from deploy.local.sinks.http_server import Answer, HttpServer, Request, Response, parse_form
from deploy.local.sinks.sms_sink import SmsSink


async def slow(response: Response, seconds: float) -> Response:
    await asyncio.sleep(seconds)
    return response


async def slow_failure(seconds: float) -> Response:
    await asyncio.sleep(seconds)
    raise RuntimeError("a slow handler failed")


def handler(request: Request) -> Answer:
    """Echoes the request as JSON; a few paths misbehave on purpose."""
    echo = Response(
        200,
        orjson.dumps(
            {
                "method": request.method,
                "path": request.path,
                "query": request.query,
                "headers": request.headers,
                "body": request.body.decode("latin-1"),
                "version": request.version,
            }
        ),
    )
    if request.path == "/slow":
        return slow(echo, float(request.query.get("s", "0.3")))
    if request.path == "/boom":
        raise RuntimeError("a handler failed")
    if request.path == "/boom-later":
        return slow_failure(0.05)
    if request.path == "/smuggle":
        return Response(200, b"{}", headers={"X-Note": "one\r\nSet-Cookie: evil=1"})
    if request.path == "/form":
        return Response(200, orjson.dumps(request.form()))
    if request.path == "/json":
        try:
            return Response(200, orjson.dumps({"got": request.json()}))
        except ValueError:
            return Response(400, b'{"error":"not JSON"}')
    if request.path == "/created":
        return Response(201, b"{}", headers={"Retry-After": "2"})
    if request.path == "/odd-status":
        return Response(599, b"{}")
    return echo


@asynccontextmanager
async def serving(max_body: int = 1024 * 1024) -> AsyncIterator[HttpServer]:
    server = HttpServer(handler, max_body=max_body)
    await server.start("127.0.0.1", 0)
    try:
        yield server
    finally:
        await server.close()


@dataclass
class Answered:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


class Client:
    """One raw connection: writes bytes, reads answers framed by Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def connect(cls, server: HttpServer) -> Client:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        return cls(reader, writer)

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def answer(self, *, head: bool = False) -> Answered:
        raw = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 5)
        status_line, *lines = raw[:-4].decode("latin-1").split("\r\n")
        version, status, reason = status_line.split(" ", 2)
        assert version == "HTTP/1.1"
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            assert name.lower() not in headers, f"{name} twice"
            headers[name.lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = b"" if head else await asyncio.wait_for(self.reader.readexactly(length), 5)
        return Answered(int(status), reason, headers, body)

    async def closed_by_server(self) -> bool:
        """True when the server closed the connection (and sent nothing more)."""
        return await asyncio.wait_for(self.reader.read(), 5) == b""

    def close(self) -> None:
        self.writer.close()


def get(path: str, *extra: str, version: str = "1.1") -> bytes:
    head = [f"GET {path} HTTP/{version}", "Host: sink", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode()


def post(path: str, body: bytes, *extra: str) -> bytes:
    head = [f"POST {path} HTTP/1.1", "Host: sink", f"Content-Length: {len(body)}", *extra]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def test_a_request_is_handed_over_decoded() -> None:
    async with serving() as server:
        client = await Client.connect(server)
        await client.send(
            get("/a%20b/c%2Fd?x=1&x=2&blank=&caf%C3%A9=%E2%9C%93+ok", "X-Twice: 1", "x-twice: 2")
        )
        answer = await client.answer()
        client.close()
    assert answer.status == 200 and answer.reason == "OK"
    seen = answer.json()
    assert seen["method"] == "GET"
    assert seen["path"] == "/a b/c/d"
    assert seen["query"] == {"x": "1", "blank": "", "café": "✓ ok"}
    assert seen["headers"] == {"host": "sink", "x-twice": "1, 2"}
    assert seen["version"] == "1.1"


async def test_every_answer_has_length_type_date_and_its_reason() -> None:
    async with serving() as server:
        client = await Client.connect(server)
        await client.send(get("/created") + get("/odd-status"))
        created, odd = await client.answer(), await client.answer()
        client.close()
    assert (created.status, created.reason) == (201, "Created")
    assert created.headers["content-length"] == "2"
    assert created.headers["content-type"] == "application/json"
    assert created.headers["retry-after"] == "2"
    assert created.headers["date"].endswith(" GMT")
    assert (odd.status, odd.reason) == (599, "")  # no registered reason: an empty one


async def test_a_connection_is_kept_for_the_next_request() -> None:
    async with serving() as server:
        client = await Client.connect(server)
        for n in range(3):
            await client.send(get(f"/echo?n={n}"))
            answer = await client.answer()
            assert answer.json()["query"] == {"n": str(n)}
            assert "connection" not in answer.headers
        assert len(server.connections) == 1
        client.close()


async def test_pipelined_answers_keep_their_order_behind_a_slow_one() -> None:
    async with serving() as server:
        client = await Client.connect(server)
        started = time.monotonic()
        await client.send(get("/slow?s=0.3") + get("/echo?n=2") + get("/boom") + get("/echo?n=4"))
        answers = [await client.answer() for _ in range(4)]
        elapsed = time.monotonic() - started
        client.close()
    assert [a.status for a in answers] == [200, 200, 500, 200]
    assert answers[0].json()["path"] == "/slow"
    assert answers[1].json()["query"] == {"n": "2"}
    assert answers[3].json()["query"] == {"n": "4"}
    assert 0.25 < elapsed < 2


async def test_slow_answers_run_side_by_side_yet_leave_in_order() -> None:
    async with serving() as server:
        client = await Client.connect(server)
        started = time.monotonic()
        await client.send(get("/slow?s=0.4&n=1") + get("/slow?s=0.1&n=2") + get("/slow?s=0.4&n=3"))
        answers = [await client.answer() for _ in range(3)]
        elapsed = time.monotonic() - started
        client.close()
    assert [a.json()["query"]["n"] for a in answers] == ["1", "2", "3"]
    assert elapsed < 0.75  # not one after the other (0.9 s)


async def test_many_pipelined_slow_answers_all_come_in_order() -> None:
    """More than a connection may owe at once: reading pauses, then resumes."""
    async with serving() as server:
        client = await Client.connect(server)
        for first in range(0, 150, 50):  # the last 50 wait in the socket until reading resumes
            await client.send(b"".join(get(f"/slow?s=0.1&n={n}") for n in range(first, first + 50)))
            await asyncio.sleep(0.02)
        answers = [await client.answer() for _ in range(150)]
        client.close()
    assert [a.json()["query"]["n"] for a in answers] == [str(n) for n in range(150)]


async def test_a_chunked_body_arrives_whole() -> None:
    async with serving() as server:
        client = await Client.connect(server)
        await client.send(
            b"POST /echo HTTP/1.1\r\nHost: sink\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        for piece in (b"5\r\nhello\r\n", b"1", b"\r\n \r\n6\r\nworld!", b"\r\n0\r\n\r\n"):
            await client.send(piece)
            await asyncio.sleep(0.01)
        answer = await client.answer()
        await client.send(get("/echo?after=chunked"))
        after = await client.answer()
        client.close()
    assert answer.json()["body"] == "hello world!"
    assert after.json()["query"] == {"after": "chunked"}


async def test_expect_100_continue_is_answered_before_the_body_is_sent() -> None:
    async with serving() as server:
        client = await Client.connect(server)
        await client.send(
            b"POST /echo HTTP/1.1\r\nHost: sink\r\nContent-Length: 5\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        interim = await asyncio.wait_for(client.reader.readuntil(b"\r\n\r\n"), 5)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        await client.send(b"hello")
        answer = await client.answer()
        client.close()
    assert answer.status == 200
    assert answer.json()["body"] == "hello"


async def test_a_100_continue_does_not_overtake_an_answer_still_owed() -> None:
    async with serving() as server:
        client = await Client.connect(server)
        expecting = b"POST /echo HTTP/1.1\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
        await client.send(get("/slow?s=0.2") + expecting)
        assert (await client.answer()).json()["path"] == "/slow"
        interim = await asyncio.wait_for(client.reader.readuntil(b"\r\n\r\n"), 5)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        await client.send(b"ok")
        assert (await client.answer()).json()["body"] == "ok"
        client.close()


async def test_connection_close_is_honoured() -> None:
    async with serving() as server:
        client = await Client.connect(server)
        # What follows a closing request is not read.
        await client.send(get("/echo", "Connection: close") + get("/echo?n=2"))
        answer = await client.answer()
        assert answer.headers["connection"] == "close"
        assert await client.closed_by_server()
        client.close()


async def test_http_1_0_closes_unless_asked_to_keep_alive() -> None:
    async with serving() as server:
        client = await Client.connect(server)
        await client.send(get("/echo", version="1.0"))
        answer = await client.answer()
        assert answer.json()["version"] == "1.0"
        assert answer.headers["connection"] == "close"
        assert await client.closed_by_server()
        client.close()

        client = await Client.connect(server)
        await client.send(get("/echo", "Connection: keep-alive", version="1.0"))
        assert (await client.answer()).headers["connection"] == "keep-alive"
        await client.send(get("/echo?n=2", "Connection: keep-alive", version="1.0"))
        assert (await client.answer()).json()["query"] == {"n": "2"}
        client.close()


async def test_head_is_answered_without_the_body() -> None:
    async with serving() as server:
        client = await Client.connect(server)
        await client.send(get("/echo").replace(b"GET", b"HEAD", 1) + get("/echo?n=2"))
        head = await client.answer(head=True)
        after = await client.answer()
        client.close()
    assert head.status == 200 and int(head.headers["content-length"]) > 0
    assert after.json()["query"] == {"n": "2"}  # so no body bytes came between them


async def test_a_body_over_the_limit_is_refused_and_the_connection_closed() -> None:
    async with serving(max_body=1000) as server:
        client = await Client.connect(server)
        await client.send(
            b"POST /echo HTTP/1.1\r\nHost: sink\r\nContent-Length: 1001\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        answer = await client.answer()  # at once: no 100 Continue, no body read
        assert answer.status == 413
        assert answer.headers["connection"] == "close"
        assert await client.closed_by_server()
        client.close()

        client = await Client.connect(server)
        await client.send(
            b"POST /echo HTTP/1.1\r\nHost: sink\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        for _ in range(3):
            await client.send(b"190\r\n" + b"x" * 400 + b"\r\n")
        answer = await client.answer()
        assert answer.status == 413
        assert await client.closed_by_server()
        client.close()

        client = await Client.connect(server)  # exactly the limit is fine
        await client.send(post("/echo", b"y" * 1000))
        assert (await client.answer()).json()["body"] == "y" * 1000
        client.close()


@pytest.mark.parametrize(
    "garbage",
    [
        b"HELLO\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: sink\r\nContent-Length: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header: 1\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello
    ],
)
async def test_what_is_not_http_is_a_400_and_the_connection_closed(garbage: bytes) -> None:
    async with serving() as server:
        client = await Client.connect(server)
        await client.send(get("/echo?n=1") + garbage)
        assert (await client.answer()).status == 200  # the good request before it
        answer = await client.answer()
        assert answer.status == 400
        assert answer.headers["connection"] == "close"
        assert await client.closed_by_server()
        client.close()


async def test_a_failing_handler_is_a_500_and_the_connection_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with serving() as server:
        client = await Client.connect(server)
        with caplog.at_level(logging.ERROR, logger="deploy.local.sinks.http_server"):
            for path in ("/boom", "/boom-later", "/smuggle"):
                await client.send(get(path))
                answer = await client.answer()
                assert answer.status == 500, path
                assert "connection" not in answer.headers
                assert "set-cookie" not in answer.headers
        await client.send(get("/echo?n=2"))
        assert (await client.answer()).json()["query"] == {"n": "2"}
        client.close()
    failures = [r for r in caplog.records if r.exc_info]
    assert len(failures) == 3


async def test_an_upgrade_request_is_answered_as_an_ordinary_one() -> None:
    async with serving() as server:
        client = await Client.connect(server)
        await client.send(
            get("/echo?n=1", "Connection: Upgrade", "Upgrade: h2c") + get("/echo?n=2")
        )
        first, second = await client.answer(), await client.answer()
        client.close()
    assert first.json()["query"] == {"n": "1"}
    assert second.json()["query"] == {"n": "2"}


async def test_closing_does_not_wait_for_a_slow_answer() -> None:
    server = HttpServer(handler)
    await server.start("127.0.0.1", 0)
    client = await Client.connect(server)
    await client.send(get("/echo?n=1") + get("/slow?s=30"))
    assert (await client.answer()).status == 200
    await asyncio.sleep(0.05)
    port = server.port
    started = time.monotonic()
    await asyncio.wait_for(server.close(), 2)
    assert time.monotonic() - started < 0.5
    assert await client.closed_by_server()
    client.close()
    with pytest.raises(OSError):  # no longer listening
        await asyncio.open_connection("127.0.0.1", port)


async def test_forms_and_json_bodies() -> None:
    async with serving() as server:
        client = await Client.connect(server)
        form = "Content-Type: application/x-www-form-urlencoded; charset=utf-8"
        await client.send(post("/form", b"To=%2B1555&Body=caf%C3%A9+%26+more&Body=last&E=", form))
        assert (await client.answer()).json() == {"To": "+1555", "Body": "last", "E": ""}
        await client.send(post("/form", b"To=%2B1555", "Content-Type: text/plain"))
        assert (await client.answer()).json() == {}  # not a form: no fields
        await client.send(post("/json", b'{"a": [1, null]}', "Content-Type: application/json"))
        assert (await client.answer()).json() == {"got": {"a": [1, None]}}
        await client.send(post("/json", b"{nope"))
        assert (await client.answer()).status == 400
        client.close()


async def test_the_sms_sink_routes_unknown_paths_and_methods_to_json_errors() -> None:
    sink = SmsSink("AC" + "0" * 32, "token", JsonLinesLog(None))
    server = HttpServer(sink.handle)
    await server.start("127.0.0.1", 0)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as http:
            unknown = await http.get("/nope")
            wrong = await http.put("/messages")
            listed = await http.get("/messages")
            health = await http.head("/healthz")
    finally:
        await server.close()
    assert unknown.status_code == 404
    assert unknown.json()["code"] == 20404
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "DELETE,GET,HEAD"
    assert wrong.json() == {
        "code": 20004,
        "message": "Method not allowed",
        "more_info": "https://www.twilio.com/docs/errors/20004",
        "status": 405,
    }
    assert listed.json() == {"count": 0, "duplicates": 0, "messages": [], "callbacks": []}
    assert health.status_code == 200 and health.content == b""


def test_forms_decode_as_parse_qsl_decodes_them() -> None:
    """`parse_form` decodes in one pass for speed; it must agree with the standard library on
    any UTF-8 body, escapes of separators and malformed escapes included."""
    pieces = ["a", "B", "=", "&", "+", "%", " ", "%2", "%zz", "%41", "%2B", "%C3%A9", "%c3%a9"]
    pieces += ["%Aa", "é", "✓", "\x00", "\t", ";", "%26", "%3D", "%25", "%FF", "%E2%9C"]
    pieces += ["&&", "==", "%2526", "\n", "To=%2B1555&"]
    rng = random.Random(7)
    for _ in range(20_000):
        body = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14))).encode()
        expected = dict(parse_qsl(body.rstrip().decode(), keep_blank_values=True))
        assert parse_form(body) == expected, body


def test_the_json_lines_log_writes_what_json_dumps_wrote(tmp_path: Path) -> None:
    """orjson in place of `json.dumps(ensure_ascii=False, separators=(",", ":"))`: the same
    bytes for the sinks' records (strings of any kind, None, numbers, lists, dicts)."""
    records: list[dict[str, Any]] = [
        {"to": "+15550001111", "body": 'café ✓ 👋 "quoted" \\ \x00\x1f\x7f \u2028', "n": 3},
        {"none": None, "yes": True, "list": [1, "two", {"three": []}], "empty": {}},
    ]
    log = JsonLinesLog(tmp_path / "sub" / "log.jsonl")
    for record in records:
        log.write(record)
    log.close()
    expected = "".join(
        json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in records
    )
    assert (tmp_path / "sub" / "log.jsonl").read_bytes() == expected.encode()


def test_it_runs_on_uvloop_too() -> None:
    """`run` serves on uvloop where it is installed: order and prompt closing hold there."""

    async def check() -> None:
        server = HttpServer(handler)
        await server.start("127.0.0.1", 0)
        client = await Client.connect(server)
        await client.send(get("/slow?s=0.2") + get("/echo?n=2") + get("/slow?s=30"))
        first, second = await client.answer(), await client.answer()
        assert first.json()["path"] == "/slow"
        assert second.json()["query"] == {"n": "2"}
        started = time.monotonic()
        await asyncio.wait_for(server.close(), 2)
        assert time.monotonic() - started < 0.5
        assert await client.closed_by_server()
        client.close()

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(check())
