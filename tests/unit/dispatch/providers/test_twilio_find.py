"""Reconciliation: `find` reads Twilio's Messages list (canned pages from a loopback server) and
matches each provider message to at most one earlier attempt, never "not sent" in doubt."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web

from services.dispatch.providers.base import TransientSendError
from services.dispatch.providers.sms import FIND_MAX_PAGES, TRIAL_PREFIX
from tests.support.twilio_api import (
    MESSAGES_PATH,
    Handler,
    answering,
    message_resource,
    page_of,
    twilio_at,
    twilio_error,
)

TO = "+4915112345678"
SINCE = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
BODY = "Demo Coffee: your beans are waiting https://dc.example/c/1"


def sid(n: int) -> str:
    return f"SM{n:032x}"


def at(seconds: float) -> datetime:
    return SINCE + timedelta(seconds=seconds)


def sent(n: int, body: str, seconds: float, **extra: Any) -> dict[str, Any]:
    """Message n, created `seconds` after SINCE and sent a second later."""
    return message_resource(sid(n), body, created_at=at(seconds), sent_at=at(seconds + 1), **extra)


class Pages:
    """Serves `pages` in order, following next_page_uri; records every query."""

    def __init__(self, *pages: list[dict[str, Any]]) -> None:
        self.pages = pages
        self.queries: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        assert request.method == "GET" and request.path == MESSAGES_PATH
        self.queries.append(dict(request.query))
        number = int(request.query.get("Page", "0"))
        token = f"PASM{number + 1:030x}"
        last = number + 1 >= len(self.pages)
        following = (
            None
            if last
            else f"{MESSAGES_PATH}?To=%2B4915112345678&PageSize=100&Page={number + 1}"
            f"&PageToken={token}"
        )
        return page_of(self.pages[number], following)


async def find(pages: Pages | Handler, **options: Any) -> str | None:
    async with twilio_at(pages.handle if isinstance(pages, Pages) else pages) as sms:
        found = await sms.find(TO, options.pop("body", BODY), since=SINCE, **options)
    return None if found is None else found.provider_id


async def test_identical_bodies_each_match_one_attempt() -> None:
    pages = Pages([sent(2, BODY, 20), sent(1, BODY, 10)])
    assert await find(pages) == sid(2)
    assert await find(pages, taken={sid(2)}) == sid(1)
    assert await find(pages, taken=[sid(1), sid(2)]) is None


async def test_the_trial_accounts_prefix_is_allowed_and_nothing_else() -> None:
    trial = Pages([sent(1, TRIAL_PREFIX + BODY, 10)])
    assert await find(trial) == sid(1)
    longer = Pages([sent(1, "Reminder: " + BODY, 10)])
    assert await find(longer) is None, "a text that merely ends the same is another text"
    shorter = Pages([sent(1, BODY, 10)])
    assert await find(shorter, body="Reminder: " + BODY) is None


async def test_a_re_rendered_body_is_another_message() -> None:
    pages = Pages([sent(1, BODY.replace("/c/1", "/c/2"), 10)])
    assert await find(pages) is None


async def test_only_messages_to_the_recipient_and_outbound_count() -> None:
    pages = Pages(
        [
            sent(3, BODY, 30, to="+4915199999999"),
            sent(2, BODY, 20, direction="inbound"),
            sent(1, BODY, 10),
        ]
    )
    assert await find(pages) == sid(1)


async def test_the_window_starts_a_minute_before_since() -> None:
    pages = Pages([sent(2, BODY, -50), sent(1, BODY, -70)])
    assert await find(pages) == sid(2)
    assert await find(pages, taken={sid(2)}) is None


async def test_a_match_on_the_third_page_follows_next_page_uri() -> None:
    filler = [sent(100 + n, f"other text {n}", 500 - n) for n in range(3)]
    pages = Pages(filler, [sent(10, "yet another", 300)], [sent(1, BODY, 10)])
    assert await find(pages) == sid(1)
    assert len(pages.queries) == 3
    assert pages.queries[0] == {"To": TO, "PageSize": "100"}
    assert pages.queries[2]["Page"] == "2" and pages.queries[2]["PageToken"].startswith("PASM")
    assert pages.queries[2]["To"] == TO


async def test_reading_stops_at_a_message_sent_before_the_window() -> None:
    pages = Pages([sent(3, "other", 30), sent(2, "old", -3600)], [sent(1, BODY, 10)])
    assert await find(pages) is None
    assert len(pages.queries) == 1, "older pages cannot hold a message of the window"


async def test_a_message_not_sent_yet_does_not_end_the_reading() -> None:
    queued = message_resource(sid(9), "queued long ago", created_at=at(-7200))
    pages = Pages([queued], [sent(1, BODY, 10)])
    assert await find(pages) == sid(1)
    queued_match = message_resource(sid(8), BODY, created_at=at(5))
    assert await find(Pages([queued_match])) == sid(8)


async def test_too_many_pages_is_cannot_tell_not_not_found() -> None:
    pages = Pages(*[[sent(100 + n, "other", 600 - n)] for n in range(FIND_MAX_PAGES + 1)])
    with pytest.raises(TransientSendError, match="pages"):
        await find(pages)
    assert len(pages.queries) == FIND_MAX_PAGES


@pytest.mark.parametrize(
    "answer",
    [
        lambda: web.Response(status=503, text="down"),
        lambda: twilio_error(401, 20003, "Authenticate"),
        lambda: twilio_error(429, 20429, "Too Many Requests"),
        lambda: web.Response(status=200, text="<html>captive portal</html>"),
        lambda: web.json_response({"unexpected": True}),
        lambda: web.json_response({"messages": "none"}),
        lambda: web.json_response({"messages": [{"sid": sid(1), "to": TO}]}),
        lambda: web.json_response(
            {"messages": [{**sent(1, BODY, 10), "date_created": "yesterday"}]}
        ),
        lambda: page_of([sent(1, "other", 10)], "https://elsewhere.example/next"),
    ],
)
async def test_a_page_it_cannot_read_is_transient(answer: Callable[[], web.Response]) -> None:
    """Not knowing whether the first attempt went out must not read as "it did not"."""
    with pytest.raises(TransientSendError, match="Messages list"):
        await find(answering(answer))


async def test_a_bad_second_page_is_transient_too() -> None:
    calls = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal calls
        calls += 1
        if calls == 1:
            return page_of([sent(2, "other", 20)], f"{MESSAGES_PATH}?Page=1&PageToken=PA1")
        return web.Response(status=500, text="oops")

    with pytest.raises(TransientSendError):
        await find(handler)
    assert calls == 2
