"""The SMTP adapter against the real local SMTP sink, run as its own process.

The sink is what `make run` uses (deploy/local/sinks/); here it stands in for an SMTP relay,
including its failures: refusing mail, unknown recipients, dropped connections, slow answers.
No Kafka, no PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiosmtplib
import pytest
from pydantic import SecretStr

from services.dispatch.providers import (
    EmailSettings,
    PermanentSendError,
    SmtpSender,
    TransientSendError,
    build_email,
)
from tests.support.certificates import self_signed
from tests.support.ingest_process import free_port
from tests.support.sinks import Sink, smtp_sink

UNSUBSCRIBE = "https://t.nudge.example.com/u/" + "eyJzaG9wIjoiZGVtby1jb2ZmZWUifQ" * 4


@pytest.fixture(scope="module")
def smtp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sink]:
    with smtp_sink(tmp_path_factory.mktemp("smtp-sink")) as sink:
        yield sink


@pytest.fixture(autouse=True)
def clean_sink(request: pytest.FixtureRequest) -> None:
    """Each test starts with an empty sink that behaves (when the test uses it)."""
    if "smtp" in request.fixturenames:
        sink: Sink = request.getfixturevalue("smtp")
        sink.tell(refuse_for_s=0, delay_ms=0, reject=[])
        sink.reset()


def email_settings(sink: Sink, **overrides: Any) -> EmailSettings:
    return EmailSettings(host="127.0.0.1", port=sink.port, **overrides)


def marketing_email(n: int, *, message_id: str | None = None, to: str | None = None) -> Any:
    return build_email(
        sender="Demo Coffee <hello@demo-coffee.example>",
        to=to or f"Customer {n} <customer{n}@example.org>",
        subject=f"Your beans are still in the cart ({n})",
        text=f"Hi customer {n},\nyour cart is waiting.\nhttps://demo-coffee.example/cart/{n}",
        html=f"<p>Hi customer {n},</p><p>your cart is waiting.</p>",
        message_id=message_id or f"trg-{n}.email@mail.nudge.example",
        unsubscribe_url=f"{UNSUBSCRIBE}/{n}",
        unsubscribe_mailto="unsubscribe@nudge.example",
        headers={"Feedback-ID": "abandoned_cart:demo-coffee:nudge"},
    )


def header(record: dict[str, Any], name: str, *, raw: bool = False) -> str:
    values = [v for k, v in record["raw_headers" if raw else "headers"] if k.lower() == name]
    assert len(values) == 1, (name, values)
    return str(values[0])


# --- email ---------------------------------------------------------------------------------


async def test_fifty_emails_over_a_few_reused_connections(smtp: Sink) -> None:
    sender = SmtpSender(email_settings(smtp, pool_size=4))
    try:
        results = await asyncio.gather(*(sender.send(marketing_email(n)) for n in range(50)))
    finally:
        await sender.close()

    assert {r.provider_id for r in results} == {
        f"<trg-{n}.email@mail.nudge.example>" for n in range(50)
    }
    seen = smtp.messages()
    assert seen["count"] == 50
    assert seen["duplicates"] == 0
    assert 1 <= seen["connections"] <= 4
    by_id = {m["message_id"]: m for m in seen["messages"]}
    for n in range(50):
        record = by_id[f"<trg-{n}.email@mail.nudge.example>"]
        assert record["rcpt_tos"] == [f"customer{n}@example.org"]
        assert record["mail_from"] == "hello@demo-coffee.example"
        assert record["subject"] == f"Your beans are still in the cart ({n})"
        assert record["parts"] == ["text/plain", "text/html"]
        assert record["text_head"][:2] == [f"Hi customer {n},", "your cart is waiting."]
        expected = f"<{UNSUBSCRIBE}/{n}>, <mailto:unsubscribe@nudge.example>"
        assert header(record, "list-unsubscribe", raw=True) == expected  # not encoded
        assert header(record, "list-unsubscribe-post") == "List-Unsubscribe=One-Click"
        assert header(record, "feedback-id") == "abandoned_cart:demo-coffee:nudge"
    logged = [json.loads(line) for line in smtp.log.read_text().splitlines()]
    assert {r["message_id"] for r in logged} >= set(by_id)


async def test_the_same_message_id_twice_is_one_message_and_one_duplicate(smtp: Sink) -> None:
    sender = SmtpSender(email_settings(smtp, pool_size=1))
    try:
        first = await sender.send(marketing_email(7, message_id="trg-7.email@nudge.example"))
        again = await sender.send(marketing_email(7, message_id="trg-7.email@nudge.example"))
    finally:
        await sender.close()
    assert first.provider_id == again.provider_id == "<trg-7.email@nudge.example>"
    seen = smtp.messages()
    assert seen["count"] == 1
    assert seen["duplicates"] == 1
    assert seen["duplicate_ids"] == {"<trg-7.email@nudge.example>": 1}


async def test_a_refusing_server_gives_a_transient_error_then_recovers(smtp: Sink) -> None:
    sender = SmtpSender(email_settings(smtp, pool_size=2))
    try:
        await sender.send(marketing_email(1))  # a pooled connection exists before the outage
        smtp.tell(refuse_for_s=300)
        with pytest.raises(TransientSendError) as caught:
            await sender.send(marketing_email(2))
        assert caught.value.code == 451
        assert not caught.value.maybe_sent
        smtp.tell(refuse_for_s=0)
        await sender.send(marketing_email(2))
    finally:
        await sender.close()
    assert [m["message_id"] for m in smtp.messages()["messages"]] == [
        "<trg-1.email@mail.nudge.example>",
        "<trg-2.email@mail.nudge.example>",
    ]


async def test_an_unknown_recipient_is_permanent_and_the_connection_stays_usable(
    smtp: Sink,
) -> None:
    smtp.tell(reject=["nobody@example.org"])
    sender = SmtpSender(email_settings(smtp, pool_size=1))
    try:
        with pytest.raises(PermanentSendError) as caught:
            await sender.send(marketing_email(3, to="nobody@example.org"))
        assert caught.value.code == 550
        await sender.send(marketing_email(4))
    finally:
        await sender.close()
    seen = smtp.messages()
    assert seen["count"] == 1
    assert seen["connections"] == 1


async def test_connections_dropped_by_the_server_are_replaced_without_an_error(
    smtp: Sink,
) -> None:
    sender = SmtpSender(email_settings(smtp, pool_size=1))
    try:
        await sender.send(marketing_email(10))
        smtp.tell(drop_connections=True)
        await sender.send(marketing_email(11))
    finally:
        await sender.close()
    seen = smtp.messages()
    assert seen["count"] == 2
    assert seen["connections"] == 2


async def test_a_relay_that_does_not_answer_in_time_is_transient_and_maybe_sent(
    smtp: Sink,
) -> None:
    smtp.tell(delay_ms=2000)  # the sink records the message, then answers DATA 2 s late
    sender = SmtpSender(email_settings(smtp, pool_size=1, timeout_s=0.5))
    try:
        started = time.monotonic()
        with pytest.raises(TransientSendError) as caught:
            await sender.send(marketing_email(20))
        assert time.monotonic() - started < 1.5
        assert caught.value.maybe_sent
        assert caught.value.reason == "timeout at end of data"
        smtp.tell(delay_ms=0)
        await sender.send(marketing_email(20))  # the retry carries the same Message-ID
    finally:
        await sender.close()
    seen = smtp.messages()
    assert (seen["count"], seen["duplicates"]) == (1, 1)
    assert seen["connections"] == 2, "the connection that timed out mid-DATA is not reused"


async def test_a_server_that_is_not_there_is_transient() -> None:
    sender = SmtpSender(EmailSettings(host="127.0.0.1", port=free_port(), timeout_s=5))
    with pytest.raises(TransientSendError) as caught:
        await sender.send(marketing_email(5))
    await sender.close()
    assert not caught.value.maybe_sent


async def offers_pipelining(sink: Sink) -> bool:
    client = aiosmtplib.SMTP(hostname="127.0.0.1", port=sink.port, timeout=5)
    await client.connect()
    offered = client.supports_extension("pipelining")
    await client.quit()
    return offered


async def test_the_sink_offers_pipelining(smtp: Sink) -> None:
    assert await offers_pipelining(smtp)


async def test_a_relay_without_pipelining_gets_one_command_at_a_time(tmp_path: Path) -> None:
    """The same outcomes when each command waits for its reply (the relay does not offer
    PIPELINING): delivery, an unknown recipient, a temporary refusal."""
    with smtp_sink(tmp_path, "--no-pipelining") as relay:
        assert not await offers_pipelining(relay)
        relay.reset()
        relay.tell(reject=["nobody@example.org"])
        sender = SmtpSender(email_settings(relay, pool_size=2))
        try:
            await asyncio.gather(*(sender.send(marketing_email(n)) for n in range(10)))
            with pytest.raises(PermanentSendError) as unknown:
                await sender.send(marketing_email(10, to="nobody@example.org"))
            relay.tell(refuse_for_s=300)
            with pytest.raises(TransientSendError) as refused:
                await sender.send(marketing_email(11))
            relay.tell(refuse_for_s=0)
            await sender.send(marketing_email(11))
        finally:
            await sender.close()
        seen = relay.messages()
    assert (unknown.value.code, unknown.value.reason[:16]) == (550, "smtp 550 at rcpt")
    assert (refused.value.code, refused.value.reason[:16]) == (451, "smtp 451 at mail")
    assert seen["count"] == 11
    assert seen["connections"] <= 2


async def test_starttls_and_auth(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    extra = ["--auth", "nudge:s3cret", "--tls-cert", str(cert), "--tls-key", str(key)]
    with smtp_sink(tmp_path, *extra) as secured:
        common = {"security": "starttls", "username": "nudge", "ca_file": cert, "timeout_s": 5}
        good = SmtpSender(email_settings(secured, password=SecretStr("s3cret"), **common))
        bad = SmtpSender(email_settings(secured, password=SecretStr("wrong"), **common))
        try:
            await good.send(marketing_email(8))
            with pytest.raises(PermanentSendError) as caught:
                await bad.send(marketing_email(9))
        finally:
            await good.close()
            await bad.close()
        assert caught.value.code == 535
        assert [m["message_id"] for m in secured.messages()["messages"]] == [
            "<trg-8.email@mail.nudge.example>"
        ]
