"""The Twilio adapter against the real local SMS sink, run as its own process.

The sink is what `make run` uses (deploy/local/sinks/); here it stands in for Twilio,
including its failures: 503, 429 with Retry-After, invalid numbers, slow answers.
No Kafka, no PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from services.dispatch.providers import (
    PermanentSendError,
    TransientSendError,
    TwilioSettings,
    TwilioSms,
)
from tests.support.sinks import SINK_SID, SINK_TOKEN, Sink, sms_sink


@pytest.fixture(scope="module")
def sms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sink]:
    with sms_sink(tmp_path_factory.mktemp("sms-sink")) as sink:
        yield sink


@pytest.fixture(autouse=True)
def clean_sink(sms: Sink) -> None:
    """Each test starts with an empty sink that behaves."""
    sms.tell(fail_status=None, delay_ms=0, retry_after_s=None, opted_out=[], idempotency=True)
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


async def test_a_repeated_idempotency_key_is_one_message(sms: Sink) -> None:
    provider = twilio(sms, messaging_service_sid="MG" + "1" * 32, from_number=None)
    try:
        first = await provider.send("+4915112345678", "Hi", idempotency_key="trg-2:sms")
        again = await provider.send("+4915112345678", "Hi", idempotency_key="trg-2:sms")
        other = await provider.send("+4915112345678", "Hi", idempotency_key="trg-3:sms")
    finally:
        await provider.close()
    assert first.provider_id == again.provider_id != other.provider_id
    seen = sms.messages()
    assert seen["count"] == 2
    assert seen["duplicates"] == 1


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


async def test_wrong_credentials_are_permanent(sms: Sink) -> None:
    provider = twilio(sms, auth_token="not-the-token")
    try:
        with pytest.raises(PermanentSendError) as caught:
            await provider.send("+4915112345678", "Hi", idempotency_key="trg-8:sms")
    finally:
        await provider.close()
    assert (caught.value.http_status, caught.value.code) == (401, 20003)


async def test_a_timeout_may_have_sent_and_the_retry_with_the_same_key_does_not_resend(
    sms: Sink,
) -> None:
    """The crash window in miniature: accepted, answer lost, retried with the same key."""
    sms.tell(delay_ms=3000)
    provider = twilio(sms, timeout_s=0.3)
    try:
        with pytest.raises(TransientSendError) as caught:
            await provider.send("+4915112345678", "Hi", idempotency_key="trg-9:sms")
        assert caught.value.maybe_sent
        sms.tell(delay_ms=0)
        result = await provider.send("+4915112345678", "Hi", idempotency_key="trg-9:sms")
    finally:
        await provider.close()
    seen = sms.messages()
    assert [m["sid"] for m in seen["messages"]] == [result.provider_id]
    assert seen["duplicates"] == 1


async def test_an_earlier_attempt_is_found_in_the_messages_list(sms: Sink) -> None:
    provider = twilio(sms)
    since = dt.datetime.now(dt.UTC)
    try:
        sent = await provider.send("+4915112345678", "Your order shipped", idempotency_key="a")
        await provider.send("+4915112345678", "Another text", idempotency_key="b")
        await provider.send("+4915199999999", "Your order shipped", idempotency_key="c")
        found = await provider.find("+4915112345678", "Your order shipped", since=since)
        missing = await provider.find("+4915112345678", "Never sent", since=since)
        too_old = await provider.find(
            "+4915112345678", "Your order shipped", since=since + dt.timedelta(minutes=5)
        )
    finally:
        await provider.close()
    assert found is not None and found.provider_id == sent.provider_id
    assert missing is None and too_old is None


async def test_the_list_refuses_other_credentials(sms: Sink) -> None:
    provider = twilio(sms, auth_token="wrong")
    try:
        with pytest.raises(TransientSendError, match="cannot read the Messages list"):
            await provider.find("+4915112345678", "Hi", since=dt.datetime.now(dt.UTC))
    finally:
        await provider.close()
