"""The Twilio adapter against the real local SMS sink, run as its own process.

The sink is what `make run` uses (deploy/local/sinks/); here it stands in for Twilio,
including its failures (503, 429 with Retry-After, invalid numbers, slow answers), its API
keys, its paged Messages list and its lack of deduplication. No Kafka, no PostgreSQL.
(TLS, proxies and redirects: tests/unit/dispatch/providers/test_twilio_transport.py.)
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from services.dispatch.providers import (
    PermanentSendError,
    ProviderConfigError,
    TransientSendError,
    TwilioSettings,
    TwilioSms,
)
from tests.support.sinks import SINK_SID, SINK_TOKEN, Sink, sms_sink

API_KEY = "SK" + "5" * 32
API_SECRET = "sink-api-key-secret"
TO = "+4915112345678"


@pytest.fixture(scope="module")
def sms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sink]:
    folder = tmp_path_factory.mktemp("sms-sink")
    with sms_sink(folder, "--api-key", f"{API_KEY}:{API_SECRET}") as sink:
        yield sink


@pytest.fixture(autouse=True)
def clean_sink(sms: Sink) -> None:
    """Each test starts with an empty sink that behaves (and calls nobody back)."""
    sms.tell(
        fail_status=None,
        delay_ms=0,
        retry_after_s=None,
        opted_out=[],
        max_concurrency=None,
        callbacks=False,
    )
    sms.reset()


def twilio(sink: Sink, **overrides: Any) -> TwilioSms:
    fields: dict[str, Any] = {
        "base_url": sink.control,
        "account_sid": SINK_SID,
        "auth_token": SINK_TOKEN,
        "from_number": "+15005550006",
    }
    fields.update(overrides)
    return TwilioSms(TwilioSettings(**fields))


async def test_the_sink_records_what_twilio_would_send(sms: Sink) -> None:
    provider = twilio(sms)
    try:
        result = await provider.send(
            "+4915112345678",
            "Demo Coffee: your beans are waiting https://dc.example/c/1",
            idempotency_key="trg-1:sms",
            status_callback="https://hooks.nudge.example/twilio/status",
        )
    finally:
        await provider.close()
    assert result.provider_id.startswith("SM") and result.status == "queued"
    (message,) = sms.messages()["messages"]
    assert message["sid"] == result.provider_id
    assert message["to"] == "+4915112345678"
    assert message["from"] == "+15005550006"
    assert message["body"] == "Demo Coffee: your beans are waiting https://dc.example/c/1"
    assert message["status_callback"] == "https://hooks.nudge.example/twilio/status"
    logged = [json.loads(line) for line in sms.log.read_text().splitlines()]
    assert logged[-1]["sid"] == result.provider_id


async def test_an_api_key_signs_in_for_the_account(sms: Sink) -> None:
    provider = twilio(sms, auth_token=None, api_key_sid=API_KEY, api_key_secret=API_SECRET)
    wrong = twilio(sms, auth_token=None, api_key_sid=API_KEY, api_key_secret="not-the-secret")
    try:
        result = await provider.send(TO, "Hi", idempotency_key="trg-k:sms")
        with pytest.raises(ProviderConfigError) as caught:
            await wrong.send(TO, "Hi", idempotency_key="trg-k2:sms")
    finally:
        await provider.close()
        await wrong.close()
    assert [m["sid"] for m in sms.messages()["messages"]] == [result.provider_id]
    assert (caught.value.http_status, caught.value.code) == (401, 20003)


async def test_a_repeated_post_is_a_second_message_as_at_twilio(sms: Sink) -> None:
    """Twilio has no idempotency key: the key is recorded, never used to drop a message."""
    provider = twilio(sms, messaging_service_sid="MG" + "1" * 32, from_number=None)
    try:
        first = await provider.send(TO, "Hi", idempotency_key="trg-2:sms")
        again = await provider.send(TO, "Hi", idempotency_key="trg-2:sms")
        other = await provider.send(TO, "Hi", idempotency_key="trg-3:sms")
    finally:
        await provider.close()
    assert len({first.provider_id, again.provider_id, other.provider_id}) == 3
    seen = sms.messages()
    assert seen["count"] == 3
    assert seen["duplicates"] == 1
    assert [m["idempotency_key"] for m in seen["messages"]] == ["trg-2:sms"] * 2 + ["trg-3:sms"]


async def test_a_failing_provider_is_transient_and_then_recovers(sms: Sink) -> None:
    sms.tell(fail_status=503, fail_count=2)
    provider = twilio(sms)
    try:
        for _ in range(2):
            with pytest.raises(TransientSendError) as caught:
                await provider.send("+4915112345678", "Hi", idempotency_key="trg-4:sms")
            assert caught.value.http_status == 503
        result = await provider.send("+4915112345678", "Hi", idempotency_key="trg-4:sms")
    finally:
        await provider.close()
    assert [m["sid"] for m in sms.messages()["messages"]] == [result.provider_id]


async def test_throttling_says_when_to_come_back(sms: Sink) -> None:
    sms.tell(fail_status=429, fail_count=None, retry_after_s=7)
    provider = twilio(sms)
    try:
        with pytest.raises(TransientSendError) as caught:
            await provider.send("+4915112345678", "Hi", idempotency_key="trg-5:sms")
    finally:
        await provider.close()
    assert caught.value.http_status == 429
    assert caught.value.retry_after_s == 7.0
    assert sms.messages()["count"] == 0


async def test_an_invalid_number_is_permanent(sms: Sink) -> None:
    provider = twilio(sms)
    try:
        with pytest.raises(PermanentSendError) as caught:
            await provider.send("015112345678", "Hi", idempotency_key="trg-6:sms")
    finally:
        await provider.close()
    assert (caught.value.http_status, caught.value.code) == (400, 21211)
    assert not caught.value.opted_out


async def test_an_unsubscribed_recipient_is_an_opt_out(sms: Sink) -> None:
    sms.tell(opted_out=["+4915199999999"])
    provider = twilio(sms)
    try:
        with pytest.raises(PermanentSendError) as caught:
            await provider.send("+4915199999999", "Hi", idempotency_key="trg-7:sms")
    finally:
        await provider.close()
    assert caught.value.code == 21610
    assert caught.value.opted_out


async def test_wrong_credentials_pause_the_provider_rather_than_refuse_the_number(
    sms: Sink,
) -> None:
    provider = twilio(sms, auth_token="not-the-token")
    try:
        with pytest.raises(ProviderConfigError) as caught:
            await provider.send("+4915112345678", "Hi", idempotency_key="trg-8:sms")
    finally:
        await provider.close()
    assert (caught.value.http_status, caught.value.code) == (401, 20003)


async def test_a_timeout_may_have_sent_and_the_list_finds_that_attempt(sms: Sink) -> None:
    """The crash window in miniature: accepted, answer lost; the Messages list tells."""
    sms.tell(delay_ms=6000)
    provider = twilio(sms, timeout_s=1.5)  # the list call after it shares the timeout
    since = dt.datetime.now(dt.UTC)
    try:
        with pytest.raises(TransientSendError) as caught:
            await provider.send(TO, "Your order shipped", idempotency_key="trg-9:sms")
        assert caught.value.maybe_sent
        sms.tell(delay_ms=0)
        found = await provider.find(TO, "Your order shipped", since=since)
    finally:
        await provider.close()
    (message,) = sms.messages()["messages"]
    assert found is not None and found.provider_id == message["sid"]


async def test_each_message_in_the_list_matches_one_attempt(sms: Sink) -> None:
    provider = twilio(sms)
    since = dt.datetime.now(dt.UTC)
    shipped = "Your order shipped"
    try:
        first = await provider.send(TO, shipped, idempotency_key="a")
        second = await provider.send(TO, shipped, idempotency_key="b")
        await provider.send(TO, "Another text", idempotency_key="c")
        await provider.send("+4915199999999", shipped, idempotency_key="d")
        newest = await provider.find(TO, shipped, since=since)
        older = await provider.find(TO, shipped, since=since, taken={second.provider_id})
        both = [first.provider_id, second.provider_id]
        none_left = await provider.find(TO, shipped, since=since, taken=both)
        re_rendered = await provider.find(TO, "Your order has shipped", since=since)
        later = since + dt.timedelta(minutes=5)
        too_old = await provider.find(TO, shipped, since=later)
    finally:
        await provider.close()
    assert newest is not None and newest.provider_id == second.provider_id
    assert older is not None and older.provider_id == first.provider_id
    assert none_left is None and re_rendered is None and too_old is None


async def test_the_list_is_read_past_its_first_page(sms: Sink) -> None:
    provider = twilio(sms)
    since = dt.datetime.now(dt.UTC)
    try:
        sent = await provider.send(TO, "The first one", idempotency_key="first")
        await asyncio.gather(
            *(provider.send(TO, f"Later text {n}", idempotency_key=f"n{n}") for n in range(120))
        )
        found = await provider.find(TO, "The first one", since=since)
    finally:
        await provider.close()
    assert found is not None and found.provider_id == sent.provider_id


async def test_the_list_refuses_other_credentials(sms: Sink) -> None:
    provider = twilio(sms, auth_token="wrong")
    try:
        with pytest.raises(TransientSendError, match="cannot read the Messages list"):
            await provider.find("+4915112345678", "Hi", since=dt.datetime.now(dt.UTC))
    finally:
        await provider.close()
