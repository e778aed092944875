"""Twilio's Messages API as the SMS adapter's unit tests need it: settings, an aiohttp.web
server on loopback that answers as each test says, and Twilio's JSON (created messages,
errors, pages of the Messages list)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from services.dispatch.providers.sms import TwilioSettings, TwilioSms

ACCOUNT = "AC" + "1" * 32
API_KEY = "SK" + "3" * 32
SERVICE = "MG" + "2" * 32
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def twilio_settings(**overrides: object) -> TwilioSettings:
    """Valid settings for ACCOUNT with an auth token and a sender number, plus `overrides`."""
    fields: dict[str, object] = {
        "account_sid": ACCOUNT,
        "auth_token": "token",
        "from_number": "+15005550006",
    }
    fields.update(overrides)
    return TwilioSettings(**fields)  # type: ignore[arg-type]


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[TestServer]:
    """A loopback HTTP server whose every request goes to `handler`."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield server
    finally:
        await server.close()


@asynccontextmanager
async def twilio_at(handler: Handler, **overrides: object) -> AsyncIterator[TwilioSms]:
    """The adapter pointed at a loopback server whose every answer comes from `handler`."""
    async with serving(handler) as server:
        sms = TwilioSms(twilio_settings(base_url=str(server.make_url("")), **overrides))
        try:
            yield sms
        finally:
            await sms.close()


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


def twilio_time(when: datetime) -> str:
    """Twilio's resource times: RFC 2822, UTC."""
    return format_datetime(when, usegmt=False)


def message_resource(
    sid: str,
    body: str,
    *,
    created_at: datetime,
    sent_at: datetime | None = None,
    to: str = "+4915112345678",
    direction: str = "outbound-api",
) -> dict[str, Any]:
    """One message as Twilio's Messages list shows it (the fields `find` reads, and others)."""
    return {
        "sid": sid,
        "account_sid": ACCOUNT,
        "to": to,
        "from": "+15005550006",
        "body": body,
        "status": "sent" if sent_at is not None else "queued",
        "direction": direction,
        "num_segments": "1",
        "date_created": twilio_time(created_at),
        "date_updated": twilio_time(sent_at or created_at),
        "date_sent": twilio_time(sent_at) if sent_at is not None else None,
        "error_code": None,
        "uri": f"{MESSAGES_PATH[:-5]}/{sid}.json",
    }


def page_of(messages: list[dict[str, Any]], next_page_uri: str | None = None) -> web.Response:
    return web.json_response(
        {
            "messages": messages,
            "page": 0,
            "page_size": len(messages),
            "uri": MESSAGES_PATH,
            "first_page_uri": MESSAGES_PATH,
            "previous_page_uri": None,
            "next_page_uri": next_page_uri,
        }
    )
