"""The Twilio adapter: the request Twilio expects, and its answers mapped onto our outcomes.

The adapter talks real HTTP to an aiohttp.web server on loopback that answers as the test says.
"""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime
from urllib.parse import parse_qs

import pytest
from aiohttp import web

from services.dispatch.providers.base import (
    PermanentSendError,
    ProviderConfigError,
    TransientSendError,
)
from services.dispatch.providers.sms import (
    IDEMPOTENCY_HEADER,
    SmsProvider,
    TwilioAnswer,
    TwilioSms,
    interpret_twilio_response,
    parse_retry_after,
)
from tests.support.ingest_process import free_port
from tests.support.twilio_api import (
    ACCOUNT,
    API_KEY,
    MESSAGES_PATH,
    SERVICE,
    answering,
    created,
    serving,
    twilio_at,
    twilio_error,
    twilio_settings,
)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_request_is_what_twilio_expects() -> None:
    seen: list[tuple[web.Request, bytes]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append((request, await request.read()))
        return created()

    async with twilio_at(handler) as sms:
        await sms.send(
            "+4915112345678",
            "Hi Anna, your cart is waiting",
            idempotency_key="trg-42:sms",
            status_callback="https://hooks.nudge.example/twilio/status",
        )
    ((request, content),) = seen
    assert request.method == "POST"
    assert request.path == MESSAGES_PATH
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["Authorization"] == basic(ACCOUNT, "token")
    assert request.headers["Accept"] == "application/json"
    assert request.headers[IDEMPOTENCY_HEADER] == "trg-42:sms"
    form = {k: v[0] for k, v in parse_qs(content.decode()).items()}
    assert form == {
        "To": "+4915112345678",
        "Body": "Hi Anna, your cart is waiting",
        "From": "+15005550006",
        "StatusCallback": "https://hooks.nudge.example/twilio/status",
    }


async def test_an_api_key_signs_in_with_the_account_still_in_the_path() -> None:
    seen: list[web.Request] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        return created()

    async with twilio_at(
        handler, auth_token=None, api_key_sid=API_KEY, api_key_secret="key-secret"
    ) as sms:
        await sms.send("+4915112345678", "Hi", idempotency_key="k")
    assert seen[0].headers["Authorization"] == basic(API_KEY, "key-secret")
    assert seen[0].path == MESSAGES_PATH


async def test_messaging_service_replaces_from() -> None:
    forms: list[dict[str, list[str]]] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        forms.append(parse_qs((await request.read()).decode()))
        return created(status="accepted")

    async with twilio_at(handler, from_number=None, messaging_service_sid=SERVICE) as sms:
        result = await sms.send("+4915112345678", "Hi", idempotency_key="k")
    assert forms[0]["MessagingServiceSid"] == [SERVICE]
    assert "From" not in forms[0] and "StatusCallback" not in forms[0]
    assert result.status == "accepted"


async def test_a_body_is_sent_byte_for_byte() -> None:
    bodies: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        bodies.append((await request.post())["Body"])  # type: ignore[arg-type]
        return created()

    text = "Grüße & 50% off: a+b=c ☕ https://dc.example/c/1?x=1&y=2\nline two"
    async with twilio_at(handler) as sms:
        await sms.send("+4915112345678", text, idempotency_key="k")
    assert bodies == [text]


async def test_created_gives_the_message_sid() -> None:
    async with twilio_at(answering(lambda: created(sid="SM" + "b" * 32))) as sms:
        result = await sms.send("+4915112345678", "Hi", idempotency_key="k")
    assert result.provider_id == "SM" + "b" * 32
    assert result.status == "queued"


@pytest.mark.parametrize(
    ("code", "opted_out"),
    [(21211, False), (21614, False), (21610, True), (21408, False)],
)
async def test_4xx_is_permanent_with_twilios_code(code: int, opted_out: bool) -> None:
    async with twilio_at(answering(lambda: twilio_error(400, code, "nope"))) as sms:
        with pytest.raises(PermanentSendError) as caught:
            await sms.send("+4915112345678", "Hi", idempotency_key="k")
    assert caught.value.code == code
    assert caught.value.http_status == 400
    assert caught.value.opted_out is opted_out


async def test_bad_credentials_are_a_configuration_error_not_the_recipients_fault() -> None:
    async with twilio_at(answering(lambda: twilio_error(401, 20003, "Authenticate"))) as sms:
        with pytest.raises(ProviderConfigError) as caught:
            await sms.send("+4915112345678", "Hi", idempotency_key="k")
    assert (caught.value.http_status, caught.value.code) == (401, 20003)
    assert "NUDGE_TWILIO_ACCOUNT_SID" in caught.value.reason
    assert caught.value.maybe_sent is False


async def test_429_is_transient_with_retry_after() -> None:
    busy = answering(lambda: twilio_error(429, 20429, "Too Many Requests", **{"Retry-After": "30"}))
    async with twilio_at(busy) as sms:
        with pytest.raises(TransientSendError) as caught:
            await sms.send("+4915112345678", "Hi", idempotency_key="k")
    assert caught.value.retry_after_s == 30.0
    assert caught.value.code == 20429
    assert not caught.value.maybe_sent
    assert not isinstance(caught.value, ProviderConfigError)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_transient_even_without_a_json_body(status: int) -> None:
    trouble = answering(lambda: web.Response(status=status, text="<html>upstream trouble</html>"))
    async with twilio_at(trouble) as sms:
        with pytest.raises(TransientSendError) as caught:
            await sms.send("+4915112345678", "Hi", idempotency_key="k")
    assert caught.value.http_status == status
    assert caught.value.code is None
    assert caught.value.retry_after_s is None


async def test_2xx_without_a_sid_may_have_been_sent() -> None:
    async with twilio_at(answering(lambda: web.Response(status=200, text="OK"))) as sms:
        with pytest.raises(TransientSendError) as caught:
            await sms.send("+4915112345678", "Hi", idempotency_key="k")
    assert caught.value.maybe_sent


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirect_is_a_configuration_error_and_is_not_followed(status: int) -> None:
    hits: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        await request.read()
        if request.path.startswith("/elsewhere"):
            return created()
        return web.Response(status=status, headers={"Location": "/elsewhere" + request.path})

    async with twilio_at(handler) as sms:
        with pytest.raises(ProviderConfigError) as caught:
            await sms.send("+4915112345678", "Hi", idempotency_key="k")
    assert hits == [MESSAGES_PATH], "the Location must not be asked"
    assert caught.value.http_status == status
    assert not caught.value.maybe_sent
    assert f"twilio answered {status}" in caught.value.reason
    assert "/elsewhere" in caught.value.reason
    assert "NUDGE_TWILIO_BASE_URL" in caught.value.reason


async def test_a_proxy_asking_for_credentials_is_a_configuration_error() -> None:
    """A plain-HTTP proxy answers 407 itself (over HTTPS it refuses the CONNECT instead:
    test_twilio_transport.py)."""
    wants = answering(
        lambda: web.Response(status=407, headers={"Proxy-Authenticate": 'Basic realm="p"'})
    )
    async with twilio_at(wants) as sms:
        with pytest.raises(ProviderConfigError) as caught:
            await sms.send("+4915112345678", "Hi", idempotency_key="k")
    assert caught.value.http_status == 407
    assert "407" in caught.value.reason and "credentials" in caught.value.reason


async def test_nothing_listening_was_not_sent() -> None:
    sms = TwilioSms(twilio_settings(base_url=f"http://127.0.0.1:{free_port()}"))
    with pytest.raises(TransientSendError) as caught:
        await sms.send("+4915112345678", "Hi", idempotency_key="k")
    await sms.close()
    assert not caught.value.maybe_sent
    assert caught.value.http_status is None
    assert not isinstance(caught.value, ProviderConfigError)
    assert caught.value.reason.startswith("connection")


async def test_a_proxy_that_is_not_there_was_not_sent() -> None:
    async with twilio_at(answering(created), proxy_url=f"http://127.0.0.1:{free_port()}") as sms:
        with pytest.raises(TransientSendError) as caught:
            await sms.send("+4915112345678", "Hi", idempotency_key="k")
    assert not caught.value.maybe_sent
    assert "NUDGE_TWILIO_PROXY_URL" in caught.value.reason


async def test_no_answer_in_time_may_have_been_sent() -> None:
    async def slow(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(5)
        return created()

    async with twilio_at(slow, timeout_s=0.5) as sms:
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

    async with twilio_at(hang_up) as sms:
        with pytest.raises(TransientSendError) as caught:
            await sms.send("+4915112345678", "Hi", idempotency_key="k")
    assert caught.value.maybe_sent and caught.value.reason.startswith("connection")


async def test_requests_wait_for_one_of_max_connections_without_timing_out() -> None:
    """Waiting for a free connection sends nothing, so it is outside the request's timeout."""
    now = 0
    most = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal now, most
        now += 1
        most = max(most, now)
        await asyncio.sleep(0.1)
        now -= 1
        return created()

    async with twilio_at(handler, max_connections=2, timeout_s=0.5) as sms:
        results = await asyncio.gather(
            *(sms.send("+4915112345678", "Hi", idempotency_key=str(n)) for n in range(12))
        )
    assert len(results) == 12
    assert most == 2


async def test_keep_alive_connections_are_reused() -> None:
    peers: set[object] = set()

    async def handler(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        peers.add(request.transport.get_extra_info("peername"))
        return created()

    async with twilio_at(handler) as sms:
        for n in range(5):
            await sms.send("+4915112345678", "Hi", idempotency_key=str(n))
    assert len(peers) == 1


async def test_twilio_is_an_sms_provider() -> None:
    async with serving(answering(created)) as server:
        sms = TwilioSms(twilio_settings(base_url=str(server.make_url(""))))
        assert isinstance(sms, SmsProvider)
        await sms.close()


def test_error_body_is_read_as_twilio_writes_it() -> None:
    body = json.dumps({"code": 21211, "message": "Invalid 'To' Phone Number: 12"})
    answer = TwilioAnswer(400, "Bad Request", {"content-type": "application/json"}, body.encode())
    with pytest.raises(PermanentSendError) as caught:
        interpret_twilio_response(answer)
    assert caught.value.reason == "http 400 twilio 21211: Invalid 'To' Phone Number: 12"


def test_retry_after_in_seconds_or_as_a_date() -> None:
    now = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Mon, 23 Nov 2026 10:00:45 GMT", now=now) == 45.0
    assert parse_retry_after("Mon, 23 Nov 2026 09:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
