"""The SMS sink behaves as Twilio's Messages API does: credentials (auth token or API key), no
deduplication, the Messages list paged and filtered, the concurrency limit, slow answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from deploy.local.sinks.sms_sink import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, SmsSink

API_KEY, API_SECRET = "SK" + "1" * 32, "key-secret"
MESSAGES = f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"
ACCOUNT = aiohttp.encode_basic_auth(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN)


@pytest.fixture
async def sink() -> SmsSink:
    return SmsSink(api_keys={API_KEY: API_SECRET}, callback_delay_ms=0)


@pytest.fixture
async def client(sink: SmsSink) -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(sink.app())) as test_client:
        yield test_client


async def send(
    client: TestClient[Any, Any],
    to: str = "+31612345678",
    *,
    auth: str = ACCOUNT,
    key: str | None = None,
    path: str = MESSAGES,
) -> tuple[int, dict[str, Any]]:
    fields = {"To": to, "From": "+15005550006", "Body": f"Your cart misses you, {to}"}
    headers = {"Authorization": auth}
    if key is not None:
        headers["Idempotency-Key"] = key
    async with client.post(path, data=fields, headers=headers) as answer:
        return answer.status, await answer.json()


async def page(client: TestClient[Any, Any], target: str, **query: str) -> dict[str, Any]:
    async with client.get(
        target, params=query or None, headers={"Authorization": ACCOUNT}
    ) as answer:
        assert answer.status == 200, await answer.text()
        body: dict[str, Any] = await answer.json()
        return body


async def test_a_message_is_answered_in_twilios_shape(client: TestClient[Any, Any]) -> None:
    status, message = await send(client)
    assert status == 201
    assert message["sid"].startswith("SM") and len(message["sid"]) == 34
    assert message["account_sid"] == DEFAULT_ACCOUNT_SID
    assert (message["to"], message["from"]) == ("+31612345678", "+15005550006")
    assert message["status"] == "queued" and message["direction"] == "outbound-api"
    assert message["date_sent"] is None and message["date_created"].endswith(" +0000")
    assert message["num_segments"] == "1" and message["price"] is None
    assert message["error_code"] is None and message["error_message"] is None
    assert message["uri"] == MESSAGES.replace(".json", f"/{message['sid']}.json")
    async with client.get(message["uri"], headers={"Authorization": ACCOUNT}) as answer:
        assert (await answer.json())["sid"] == message["sid"]


async def test_an_api_key_authenticates_in_place_of_the_auth_token(
    client: TestClient[Any, Any],
) -> None:
    assert (await send(client, auth=aiohttp.encode_basic_auth(API_KEY, API_SECRET)))[0] == 201
    status, error = await send(client, auth=aiohttp.encode_basic_auth(API_KEY, "not-the-secret"))
    assert (status, error["code"]) == (401, 20003)
    status, error = await send(
        client, auth=aiohttp.encode_basic_auth(DEFAULT_ACCOUNT_SID, API_SECRET)
    )
    assert (status, error["code"]) == (401, 20003)
    other = MESSAGES.replace(DEFAULT_ACCOUNT_SID, "AC" + "9" * 32)
    status, error = await send(
        client, auth=aiohttp.encode_basic_auth(API_KEY, API_SECRET), path=other
    )
    assert (status, error["code"]) == (404, 20404)


async def test_a_repeated_idempotency_key_is_a_second_message_and_counted(
    client: TestClient[Any, Any],
) -> None:
    """Twilio does not deduplicate: the sink delivers the repeat and says it was one."""
    first = (await send(client, key="trg-1:sms"))[1]["sid"]
    again = (await send(client, key="trg-1:sms"))[1]["sid"]
    other = (await send(client, key="trg-2:sms"))[1]["sid"]
    assert len({first, again, other}) == 3
    seen = await page(client, "/messages")
    assert (seen["count"], seen["duplicates"]) == (3, 1)
    assert [m["duplicate"] for m in seen["messages"]] == [False, True, False]


async def test_the_list_pages_newest_first_through_next_and_previous_uris(
    client: TestClient[Any, Any],
) -> None:
    sent = [(await send(client, "+31600000001"))[1]["sid"] for _ in range(7)]
    await send(client, "+31600000002")
    first = await page(client, MESSAGES, To="+31600000001", PageSize="3")
    assert first["page"] == 0 and first["page_size"] == 3 and first["previous_page_uri"] is None
    assert first["first_page_uri"].endswith("PageSize=3&Page=0")
    await send(client, "+31600000001")  # a newer message does not shift the later pages
    pages, target = [first], first["next_page_uri"]
    while target is not None:
        pages.append(await page(client, target))
        target = pages[-1]["next_page_uri"]
    assert [p["page"] for p in pages] == [0, 1, 2]
    assert [m["sid"] for p in pages for m in p["messages"]] == sent[::-1]
    assert all(m["to"] == "+31600000001" for p in pages for m in p["messages"])
    back = await page(client, pages[2]["previous_page_uri"])
    assert [m["sid"] for m in back["messages"]] == [m["sid"] for m in pages[1]["messages"]]


async def test_the_list_filters_by_the_day_or_second_sent(
    client: TestClient[Any, Any], sink: SmsSink
) -> None:
    sent = (await send(client, "+31600000003"))[1]["sid"]
    await sink.settled()
    sink.callback_delay_ms = 60_000
    await send(client, "+31600000003")  # queued, not sent: no date_sent, matches no filter
    today = datetime.now(UTC).date()
    for query in (
        {"DateSent": today.isoformat()},
        {"DateSent>": today.isoformat(), "DateSent<": today.isoformat()},
        {"DateSent>": (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")},
    ):
        found = await page(client, MESSAGES, To="+31600000003", **query)
        assert [m["sid"] for m in found["messages"]] == [sent], query
        assert all(f"{name}=" in unquote(found["uri"]) for name in query)
    yesterday = (today - timedelta(days=1)).isoformat()
    assert (await page(client, MESSAGES, **{"DateSent<": yesterday}))["messages"] == []


@pytest.mark.parametrize(
    ("query", "field"),
    [({"PageSize": "1001"}, "PageSize"), ({"DateSent": "7 Dec"}, "DateSent")],
)
async def test_an_invalid_list_query_is_refused_naming_the_parameter(
    client: TestClient[Any, Any], query: dict[str, str], field: str
) -> None:
    async with client.get(MESSAGES, params=query, headers={"Authorization": ACCOUNT}) as answer:
        error = await answer.json()
    assert (answer.status, error["code"]) == (400, 20001)
    assert error["message"].startswith(f"{field}:")


async def test_past_the_concurrency_limit_requests_are_refused_with_20429_at_once(
    client: TestClient[Any, Any], sink: SmsSink
) -> None:
    sink.apply({"max_concurrency": 2, "delay_ms": 400})
    started = time.monotonic()
    answers = await asyncio.gather(*(send(client, f"+3161000000{n}") for n in range(5)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201, 201, 429, 429, 429]
    refused = [body for status, body in answers if status == 429]
    assert all(body["code"] == 20429 for body in refused)
    seen = await page(client, "/messages")
    assert (seen["count"], seen["too_many_requests"]) == (2, 3)
    assert time.monotonic() - started >= 0.4
    sink.apply({"delay_ms": 0})
    assert [status for status, _ in [await send(client) for _ in range(3)]] == [201] * 3


async def test_a_slow_answer_comes_after_the_message_was_recorded(
    client: TestClient[Any, Any], sink: SmsSink
) -> None:
    sink.apply({"delay_ms": 300})
    started = time.monotonic()
    answer = asyncio.ensure_future(send(client))
    await asyncio.sleep(0.1)
    assert (await page(client, "/messages"))["count"] == 1
    assert (await answer)[0] == 201
    assert time.monotonic() - started >= 0.3


async def test_errors_come_in_twilios_shape(client: TestClient[Any, Any]) -> None:
    assert (await send(client, "0612345678"))[1]["code"] == 21211
    async with client.get("/2010-04-01/Accounts/x/Calls.json") as answer:
        assert (answer.status, (await answer.json())["code"]) == (404, 20404)
    async with client.delete(MESSAGES, headers={"Authorization": ACCOUNT}) as answer:
        assert (answer.status, (await answer.json())["code"]) == (405, 20004)
        assert "POST" in answer.headers["Allow"]


async def test_control_refuses_what_it_does_not_know_naming_the_field(
    client: TestClient[Any, Any], sink: SmsSink
) -> None:
    for body, field in (
        ({"idempotency": False}, "idempotency"),
        ({"max_concurrency": 0}, "max_concurrency"),
        ({"delay_ms": "80"}, "delay_ms"),
    ):
        async with client.post("/control", json=body) as answer:
            assert answer.status == 400
            assert (await answer.json())["error"].startswith(f"{field}:")
    async with client.post("/control", json={"max_concurrency": 100, "delay_ms": 80}) as answer:
        state = await answer.json()
    assert (state["max_concurrency"], state["delay_ms"]) == (100, 80)
    assert (sink.max_concurrency, sink.delay_ms) == (100, 80)
