"""The Twilio adapter: the request Twilio expects, and its answers mapped onto our outcomes."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qs

import httpx
import pytest

from services.dispatch.providers.base import PermanentSendError, TransientSendError
from services.dispatch.providers.sms import (
    IDEMPOTENCY_HEADER,
    SmsProvider,
    TwilioSettings,
    TwilioSms,
    interpret_twilio_response,
    parse_retry_after,
)

SID = "AC" + "1" * 32
SERVICE = "MG" + "2" * 32


def settings(**overrides: object) -> TwilioSettings:
    fields: dict[str, object] = {
        "account_sid": SID,
        "auth_token": "token",
        "from_number": "+15005550006",
    }
    fields.update(overrides)
    return TwilioSettings(**fields)  # type: ignore[arg-type]


def provider(handler: Callable[[httpx.Request], httpx.Response], **overrides: object) -> TwilioSms:
    return TwilioSms(settings(**overrides), transport=httpx.MockTransport(handler))


def twilio_error(status: int, code: int, message: str, **headers: str) -> httpx.Response:
    body = {"code": code, "message": message, "more_info": "https://x", "status": status}
    return httpx.Response(status, json=body, headers=headers)


def created(sid: str = "SM" + "a" * 32, status: str = "queued") -> httpx.Response:
    return httpx.Response(201, json={"sid": sid, "status": status, "error_code": None})


async def test_request_is_what_twilio_expects() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return created()

    sms = provider(handler)
    await sms.send(
        "+4915112345678",
        "Hi Anna, your cart is waiting",
        idempotency_key="trg-42:sms",
        status_callback="https://hooks.nudge.example/twilio/status",
    )
    await sms.close()
    (request,) = seen
    assert request.method == "POST"
    assert str(request.url) == f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    expected_auth = base64.b64encode(f"{SID}:token".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected_auth}"
    assert request.headers[IDEMPOTENCY_HEADER] == "trg-42:sms"
    form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
    assert form == {
        "To": "+4915112345678",
        "Body": "Hi Anna, your cart is waiting",
        "From": "+15005550006",
        "StatusCallback": "https://hooks.nudge.example/twilio/status",
    }


async def test_messaging_service_replaces_from() -> None:
    forms: list[dict[str, list[str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        forms.append(parse_qs(request.content.decode()))
        return created(status="accepted")

    sms = provider(handler, from_number=None, messaging_service_sid=SERVICE)
    result = await sms.send("+4915112345678", "Hi", idempotency_key="k")
    await sms.close()
    assert forms[0]["MessagingServiceSid"] == [SERVICE]
    assert "From" not in forms[0] and "StatusCallback" not in forms[0]
    assert result.status == "accepted"


async def test_created_gives_the_message_sid() -> None:
    sms = provider(lambda _: created(sid="SM" + "b" * 32))
    result = await sms.send("+4915112345678", "Hi", idempotency_key="k")
    await sms.close()
    assert result.provider_id == "SM" + "b" * 32
    assert result.status == "queued"


@pytest.mark.parametrize(
    ("code", "opted_out"),
    [(21211, False), (21614, False), (21610, True), (21408, False)],
)
async def test_4xx_is_permanent_with_twilios_code(code: int, opted_out: bool) -> None:
    sms = provider(lambda _: twilio_error(400, code, "nope"))
    with pytest.raises(PermanentSendError) as caught:
        await sms.send("+4915112345678", "Hi", idempotency_key="k")
    await sms.close()
    assert caught.value.code == code
    assert caught.value.http_status == 400
    assert caught.value.opted_out is opted_out


async def test_bad_credentials_are_permanent() -> None:
    sms = provider(lambda _: twilio_error(401, 20003, "Authenticate"))
    with pytest.raises(PermanentSendError) as caught:
        await sms.send("+4915112345678", "Hi", idempotency_key="k")
    await sms.close()
    assert (caught.value.http_status, caught.value.code) == (401, 20003)


async def test_429_is_transient_with_retry_after() -> None:
    sms = provider(lambda _: twilio_error(429, 20429, "Too Many Requests", **{"Retry-After": "30"}))
    with pytest.raises(TransientSendError) as caught:
        await sms.send("+4915112345678", "Hi", idempotency_key="k")
    await sms.close()
    assert caught.value.retry_after_s == 30.0
    assert caught.value.code == 20429
    assert not caught.value.maybe_sent


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_transient_even_without_a_json_body(status: int) -> None:
    sms = provider(lambda _: httpx.Response(status, text="<html>upstream trouble</html>"))
    with pytest.raises(TransientSendError) as caught:
        await sms.send("+4915112345678", "Hi", idempotency_key="k")
    await sms.close()
    assert caught.value.http_status == status
    assert caught.value.code is None
    assert caught.value.retry_after_s is None


async def test_2xx_without_a_sid_may_have_been_sent() -> None:
    sms = provider(lambda _: httpx.Response(200, text="OK"))
    with pytest.raises(TransientSendError) as caught:
        await sms.send("+4915112345678", "Hi", idempotency_key="k")
    await sms.close()
    assert caught.value.maybe_sent


def raising(error: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return handler


@pytest.mark.parametrize(
    ("error", "maybe_sent"),
    [
        (httpx.ConnectError("refused"), False),
        (httpx.ConnectTimeout("slow"), False),
        (httpx.ReadTimeout("no answer"), True),
        (httpx.RemoteProtocolError("disconnected"), True),
        (httpx.ReadError("reset"), True),
    ],
)
async def test_network_failures_are_transient(error: Exception, maybe_sent: bool) -> None:
    sms = provider(raising(error))
    with pytest.raises(TransientSendError) as caught:
        await sms.send("+4915112345678", "Hi", idempotency_key="k")
    await sms.close()
    assert caught.value.maybe_sent is maybe_sent
    assert caught.value.http_status is None


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
    sms = provider(lambda _: created())
    assert isinstance(sms, SmsProvider)
    await sms.close()


def test_error_body_is_read_as_twilio_writes_it() -> None:
    body = json.dumps({"code": 21211, "message": "Invalid 'To' Phone Number: 12"})
    response = httpx.Response(400, content=body, headers={"Content-Type": "application/json"})
    with pytest.raises(PermanentSendError) as caught:
        interpret_twilio_response(response)
    assert caught.value.reason == "http 400 twilio 21211: Invalid 'To' Phone Number: 12"
