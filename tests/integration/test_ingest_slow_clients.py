"""Slow and greedy clients against the real ingest service, over raw sockets.

Before issue 18, a connection that trickled its headers or its body was held for as long as it
kept trickling, an idle one for ever, and a body (up to the limit) was read before the API key
was looked at. Each test here would hang on its socket's timeout, or get the wrong answer, then.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.tenancy import ShopCredentials
from tests.support.ingest_process import running_ingest
from tests.support.shops import add_shop, unique_shop_id
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

HEADER_TIMEOUT_S = 1.0
BODY_TIMEOUT_S = 3.0
MAX_CONNECTIONS = 6
PATIENCE_S = 10.0
"""How long a socket waits for the server: far beyond the timeouts under test."""


@pytest.fixture(scope="module")
def guarded(stack: Stack, logs_dir: Path) -> Iterator[tuple[str, int]]:
    with running_ingest(
        stack.kafka_bootstrap,
        stack.database_url,
        logs_dir / "ingest-guarded.log",
        header_timeout_s=str(HEADER_TIMEOUT_S),
        body_timeout_s=str(BODY_TIMEOUT_S),
        max_connections=str(MAX_CONNECTIONS),
        unverified_body_bytes=str(1024 * 1024),
    ) as base:
        host, port = base.removeprefix("http://").split(":")
        yield host, int(port)


@pytest.fixture
def shop(stack: Stack) -> ShopCredentials:
    shop_id = unique_shop_id("slow")
    return add_shop(stack.database_url, shop_id, shopify_domain=f"{shop_id}.myshopify.com")


def connect(address: tuple[str, int]) -> socket.socket:
    conn = socket.create_connection(address, timeout=PATIENCE_S)
    conn.settimeout(PATIENCE_S)
    return conn


def answer(conn: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of the server's answer, read until it closes or is complete."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def closed_by_server(conn: socket.socket) -> bool:
    try:
        return conn.recv(1) == b""
    except ConnectionResetError:
        return True


def request_head(path: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: ingest", *(f"{k}: {v}" for k, v in headers.items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_trickled_request_head_is_answered_408_and_closed(guarded: tuple[str, int]) -> None:
    with connect(guarded) as conn:
        conn.sendall(b"POST /v1/events HTTP/1.1\r\nHost: ingest\r\n")
        started = time.monotonic()
        try:
            for _ in range(int(PATIENCE_S / 0.2)):  # one header byte every 0.2 s
                conn.sendall(b"X")
                time.sleep(0.2)
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, headers, body = answer(conn)
        assert status == 408
        assert headers["content-type"] == "application/problem+json"
        assert json.loads(body)["status"] == 408
        assert time.monotonic() - started < PATIENCE_S
        assert closed_by_server(conn)


def test_an_idle_connection_is_closed(guarded: tuple[str, int]) -> None:
    with connect(guarded) as conn:
        status, _, _ = answer(conn)
        assert status == 408
        assert closed_by_server(conn)


def test_a_trickled_body_is_answered_408(guarded: tuple[str, int], shop: ShopCredentials) -> None:
    head = request_head(
        "/v1/events",
        {
            "Authorization": f"Bearer {shop.api_key.get_secret_value()}",
            "Content-Type": "application/json",
            "Content-Length": "1000",
        },
    )
    with connect(guarded) as conn:
        conn.sendall(head + b'{"events": [')
        status, headers, body = answer(conn)
        assert status == 408
        assert "body" in json.loads(body)["detail"]
        assert headers["connection"] == "close"


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/v1/events", {"Authorization": "Bearer nk_000000000000_not-a-key"}),
        ("/v1/track", {}),
        (
            "/v1/webhooks/shopify",
            {
                "X-Shopify-Shop-Domain": "nobody.myshopify.com",
                "X-Shopify-Hmac-Sha256": "AAAA",
                "X-Shopify-Topic": "orders/create",
            },
        ),
    ],
)
def test_an_unknown_caller_is_refused_before_its_body_is_read(
    guarded: tuple[str, int], path: str, headers: dict[str, str]
) -> None:
    head = request_head(
        path, {**headers, "Content-Type": "application/json", "Content-Length": "1000000"}
    )
    with connect(guarded) as conn:
        conn.sendall(head)  # and no body at all
        status, answer_headers, _ = answer(conn)
        assert status == 401
        assert answer_headers["content-type"] == "application/problem+json"


def test_unverified_bodies_share_a_bounded_budget(
    guarded: tuple[str, int], shop: ShopCredentials
) -> None:
    head = request_head(
        "/v1/webhooks/shopify",
        {
            "X-Shopify-Shop-Domain": f"{shop.shop_id}.myshopify.com",
            "X-Shopify-Hmac-Sha256": "A" * 43 + "=",
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Webhook-Id": "w-1",
            "Content-Type": "application/json",
            "Content-Length": str(1024 * 1024),
        },
    )
    part = b" " * (600 * 1024)
    with connect(guarded) as first, connect(guarded) as second:
        first.sendall(head + part)  # 600 KiB held, the rest never sent
        time.sleep(0.5)
        second.sendall(head + part)  # another 600 KiB: over the 1 MiB budget
        status, headers, body = answer(second)
        assert status == 503
        assert "retry-after" in headers
        assert "unverified" in json.loads(body)["detail"]
        assert answer(first)[0] == 408  # the first one's body never completed


def test_connections_beyond_the_cap_are_turned_away(guarded: tuple[str, int]) -> None:
    held = [connect(guarded) for _ in range(MAX_CONNECTIONS)]
    try:
        with connect(guarded) as extra:
            status, headers, _ = answer(extra)
            assert status == 503
            assert headers["content-type"] == "application/problem+json"
    finally:
        for conn in held:
            conn.close()
