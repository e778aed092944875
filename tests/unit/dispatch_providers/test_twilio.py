"""The Twilio adapter: the request Twilio expects, and its answers mapped onto our outcomes.

The adapter talks real HTTP to a small aiohttp server on loopback that answers as the test says.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from services.dispatch.providers.base import PermanentSendError, TransientSendError
from services.dispatch.providers.http_pool import ConnectError, ConnectionLost, HttpAnswer
from services.dispatch.providers.sms import (
    IDEMPOTENCY_HEADER,
    SmsProvider,
    TwilioSettings,
    TwilioSms,
    interpret_twilio_response,
    parse_retry_after,
    transport_failure,
)
from tests.support.ingest_process import free_port

SID = "AC" + "1" * 32
SERVICE = "MG" + "2" * 32
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def settings(**overrides: object) -> TwilioSettings:
    fields: dict[str, object] = {
        "account_sid": SID,
        "auth_token": "token",
        "from_number": "+15005550006",
    }
    fields.update(overrides)
    return TwilioSettings(**fields)  # type: ignore[arg-type]


@asynccontextmanager
async def provider(handler: Handler, **overrides: object) -> AsyncIterator[TwilioSms]:
    """The adapter, pointed at a loopback server whose every answer comes from `handler`."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    sms = TwilioSms(settings(base_url=str(server.make_url("")), **overrides))
    try:
        yield sms
    finally:
        await sms.close()
        await server.close()


def answering(response: Callable[[], web.StreamResponse]) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        await request.read()
        return response()

    return handler


def twilio_error(status: int, code: int, message: str, **headers: str) -> web.Response:
    body = {"code": code, "message": message, "more_info": "https://x", "status": status}
    return web.json_response(body, status=status, headers=headers)


def created(sid: str = "SM" + "a" * 32, status: str = "queued") -> web.Response:
    return web.json_response({"sid": sid, "status": status, "error_code": None}, status=201)


async def test_request_is_what_twilio_expects() -> None:
    seen: list[tuple[web.Request, bytes]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append((request, await request.read()))
        return created()

    async with provider(handler) as sms:
        await sms.send(
            "+4915112345678",
            "Hi Anna, your cart is waiting",
            idempotency_key="trg-42:sms",
            status_callback="https://hooks.nudge.example/twilio/status",
        )
    ((request, content),) = seen
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    expected_auth = base64.b64encode(f"{SID}:token".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected_auth}"
    assert request.headers[IDEMPOTENCY_HEADER] == "trg-42:sms"
    form = {k: v[0] for k, v in parse_qs(content.decode()).items()}
    assert form == {
        "To": "+4915112345678",
        "Body": "Hi Anna, your cart is waiting",
        "From": "+15005550006",
        "StatusCallback": "https://hooks.nudge.example/twilio/status",
    }


async def test_messaging_service_replaces_from() -> None:
    forms: list[dict[str, list[str]]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        forms.append(parse_qs((await request.read()).decode()))
        return created(status="accepted")

    async with provider(handler, from_number=None, messaging_service_sid=SERVICE) as sms:
        result = await sms.send("+4915112345678", "Hi", idempotency_key="k")
    assert forms[0]["MessagingServiceSid"] == [SERVICE]
    assert "From" not in forms[0] and "StatusCallback" not in forms[0]
    assert result.status == "accepted"


async def test_created_gives_the_message_sid() -> None:
    async with provider(answering(lambda: created(sid="SM" + "b" * 32))) as sms:
        result = await sms.send("+4915112345678", "Hi", idempotency_key="k")
    assert result.provider_id == "SM" + "b" * 32
    assert result.status == "queued"


@pytest.mark.parametrize(
    ("code", "opted_out"),
    [(21211, False), (21614, False), (21610, True), (21408, False)],
)
async def test_4xx_is_permanent_with_twilios_code(code: int, opted_out: bool) -> None:
    async with provider(answering(lambda: twilio_error(400, code, "nope"))) as sms:
        with pytest.raises(PermanentSendError) as caught:
            await sms.send("+4915112345678", "Hi", idempotency_key="k")
    assert caught.value.code == code
    assert caught.value.http_status == 400
    assert caught.value.opted_out is opted_out


async def test_bad_credentials_are_permanent() -> None:
    async with provider(answering(lambda: twilio_error(401, 20003, "Authenticate"))) as sms:
        with pytest.raises(PermanentSendError) as caught:
            await sms.send("+4915112345678", "Hi", idempotency_key="k")
    assert (caught.value.http_status, caught.value.code) == (401, 20003)


async def test_429_is_transient_with_retry_after() -> None:
    busy = answering(lambda: twilio_error(429, 20429, "Too Many Requests", **{"Retry-After": "30"}))
    async with provider(busy) as sms:
        with pytest.raises(TransientSendError) as caught:
            await sms.send("+4915112345678", "Hi", idempotency_key="k")
    assert caught.value.retry_after_s == 30.0
    assert caught.value.code == 20429
    assert not caught.value.maybe_sent


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_transient_even_without_a_json_body(status: int) -> None:
    trouble = answering(lambda: web.Response(status=status, text="<html>upstream trouble</html>"))
    async with provider(trouble) as sms:
        with pytest.raises(TransientSendError) as caught:
            await sms.send("+4915112345678", "Hi", idempotency_key="k")
    assert caught.value.http_status == status
    assert caught.value.code is None
    assert caught.value.retry_after_s is None


async def test_2xx_without_a_sid_may_have_been_sent() -> None:
    async with provider(answering(lambda: web.Response(status=200, text="OK"))) as sms:
        with pytest.raises(TransientSendError) as caught:
            await sms.send("+4915112345678", "Hi", idempotency_key="k")
    assert caught.value.maybe_sent


async def test_nothing_listening_was_not_sent() -> None:
    sms = TwilioSms(settings(base_url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(TransientSendError) as caught:
        await sms.send("+4915112345678", "Hi", idempotency_key="k")
    await sms.close()
    assert not caught.value.maybe_sent
    assert caught.value.http_status is None


async def test_no_answer_in_time_may_have_been_sent() -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(5)
        return created()

    async with provider(slow, timeout_s=0.5) as sms:
        with pytest.raises(TransientSendError) as caught:
            await sms.send("+4915112345678", "Hi", idempotency_key="k")
    assert caught.value.maybe_sent and caught.value.reason.startswith("timeout")


async def test_a_connection_dropped_mid_request_may_have_been_sent() -> None:
    async def hang_up(request: web.Request) -> web.StreamResponse:
        await request.read()
        assert request.transport is not None
        request.transport.close()
        await asyncio.sleep(1)
        return created()

    async with provider(hang_up) as sms:
        with pytest.raises(TransientSendError) as caught:
            await sms.send("+4915112345678", "Hi", idempotency_key="k")
    assert caught.value.maybe_sent and caught.value.reason.startswith("connection")


@pytest.mark.parametrize(
    ("error", "maybe_sent"),
    [
        (ConnectError("cannot connect: TimeoutError"), False),
        (TimeoutError(), True),
        (ConnectionLost("the connection ended before the whole answer"), True),
        (ConnectionResetError(104, "reset"), True),
    ],
)
def test_network_failures_are_transient(error: Exception, maybe_sent: bool) -> None:
    """(A refused connection, the other unsent case, is tested for real above.)"""
    failure = transport_failure(error)
    assert failure.maybe_sent is maybe_sent
    assert failure.http_status is None


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Mon, 23 Nov 2026 10:00:45 GMT", now=now) == 45.0
    assert parse_retry_after("Mon, 23 Nov 2026 09:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_settings_want_exactly_one_sender() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        settings(messaging_service_sid=SERVICE)
    with pytest.raises(ValueError, match="exactly one"):
        settings(from_number=None)
    with pytest.raises(ValueError, match="AC"):
        settings(account_sid="not-a-sid")
    with pytest.raises(ValueError, match="NUDGE_TWILIO_BASE_URL"):
        settings(base_url="api.twilio.com")
    with pytest.raises(ValueError, match="NUDGE_TWILIO_BASE_URL"):
        settings(base_url="https://AC1:token@api.twilio.com")  # credentials go in their own


def test_settings_read_the_nudge_twilio_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUDGE_TWILIO_ACCOUNT_SID", SID)
    monkeypatch.setenv("NUDGE_TWILIO_AUTH_TOKEN", "secret-token")
    monkeypatch.setenv("NUDGE_TWILIO_MESSAGING_SERVICE_SID", SERVICE)
    monkeypatch.setenv("NUDGE_TWILIO_BASE_URL", "http://127.0.0.1:10088")
    loaded = TwilioSettings()
    assert loaded.base_url == "http://127.0.0.1:10088"
    assert loaded.messaging_service_sid == SERVICE
    assert "secret-token" not in repr(loaded)


async def test_twilio_is_an_sms_provider() -> None:
    async with provider(answering(lambda: created())) as sms:
        assert isinstance(sms, SmsProvider)


def test_error_body_is_read_as_twilio_writes_it() -> None:
    body = json.dumps({"code": 21211, "message": "Invalid 'To' Phone Number: 12"})
    answer = HttpAnswer(400, "Bad Request", {"content-type": "application/json"}, body.encode())
    with pytest.raises(PermanentSendError) as caught:
        interpret_twilio_response(answer)
    assert caught.value.reason == "http 400 twilio 21211: Invalid 'To' Phone Number: 12"


def listed(*messages: dict[str, Any]) -> web.Response:
    return web.json_response({"messages": list(messages), "next_page_uri": None})


def message(body: str, created: str, to: str = "+4915112345678") -> dict[str, Any]:
    sid = "SM" + "c" * 32
    return {"sid": sid, "to": to, "body": body, "date_created": created, "status": "sent"}


async def test_find_reads_the_newest_messages_to_the_recipient() -> None:
    seen: list[web.Request] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        trial = "Sent from your Twilio trial account - Hi Ada"
        return listed(message(trial, "Mon, 23 Nov 2026 10:00:30 +0000"))

    since = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
    async with provider(handler) as sms:
        found = await sms.find("+4915112345678", "Hi Ada", since=since)
        other_body = await sms.find("+4915112345678", "Hi Ben", since=since)
        later = await sms.find("+4915112345678", "Hi Ada", since=since.replace(hour=11))
    assert found is not None and found.provider_id == "SM" + "c" * 32
    assert other_body is None and later is None
    assert seen[0].method == "GET"
    assert seen[0].query["To"] == "+4915112345678" and "PageSize" in seen[0].query


@pytest.mark.parametrize(
    "answer",
    [
        lambda: web.Response(status=503, text="down"),
        lambda: twilio_error(401, 20003, "Authenticate"),
        lambda: web.json_response({"unexpected": True}),
    ],
)
async def test_find_cannot_tell_is_transient(answer: Callable[[], web.StreamResponse]) -> None:
    """Not knowing whether the first attempt went out must not read as "it did not"."""
    async with provider(answering(answer)) as sms:
        with pytest.raises(TransientSendError):
            await sms.find("+4915112345678", "Hi", since=datetime.now(UTC))
