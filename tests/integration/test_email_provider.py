"""The SMTP adapter against real SMTP servers: the local SMTP sink, run as its own process,
and aiosmtpd in the test's own event loop for TLS.

The sink is what `make run` uses (deploy/local/sinks/); here it stands in for an SMTP relay,
including its failures: refusing mail, unknown recipients, dropped connections, slow answers.
The TLS relays answer for a real host name (`relay.nudge.test`, reached on 127.0.0.1 through
`SmtpSender`'s `resolve_to`) with a certificate from a private CA. No Kafka, no PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from pydantic import SecretStr

from services.dispatch.providers import (
    EmailSettings,
    PermanentSendError,
    ProviderConfigError,
    SmtpSender,
    TransientSendError,
    build_email,
)
from tests.support.certificates import self_signed
from tests.support.ingest_process import free_port
from tests.support.sinks import Sink, smtp_sink
from tests.support.tls_origin import TestCa

pytestmark = pytest.mark.integration

RELAY = "relay.nudge.test"

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
    smtp.tell(delay_ms=6000)  # the sink records the message, then answers DATA 6 s late
    # The retry below shares the timeout: long enough for a loaded CI machine.
    sender = SmtpSender(email_settings(smtp, pool_size=1, timeout_s=1.5))
    try:
        started = time.monotonic()
        with pytest.raises(TransientSendError) as caught:
            await sender.send(marketing_email(20))
        assert time.monotonic() - started < 4.5
        assert caught.value.maybe_sent
        assert caught.value.reason == "timeout at data"
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


async def test_starttls_and_auth_on_the_sink(tmp_path: Path) -> None:
    """Bad credentials are the relay's configuration, not the message's fault: the channel
    pauses (`ProviderConfigError`) rather than every email failing for good."""
    cert, key = self_signed(tmp_path)
    extra = ["--auth", "nudge:s3cret", "--tls-cert", str(cert), "--tls-key", str(key)]
    with smtp_sink(tmp_path, *extra) as secured:
        common = {"security": "starttls", "username": "nudge", "ca_file": cert, "timeout_s": 5}
        good = SmtpSender(email_settings(secured, password=SecretStr("s3cret"), **common))
        bad = SmtpSender(email_settings(secured, password=SecretStr("wrong"), **common))
        try:
            await good.send(marketing_email(8))
            with pytest.raises(ProviderConfigError) as caught:
                await bad.send(marketing_email(9))
        finally:
            await good.close()
            await bad.close()
        assert caught.value.code == 535
        assert [m["message_id"] for m in secured.messages()["messages"]] == [
            "<trg-8.email@mail.nudge.example>"
        ]


# --- TLS and AUTH against aiosmtpd ---------------------------------------------------------


@dataclass
class Arrival:
    mail_from: str
    tls: bool
    """Whether the session that carried it was encrypted (implicit TLS or STARTTLS)."""


@dataclass
class TlsRelay:
    port: int
    arrivals: list[Arrival] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    """Every AUTH attempt's user name, successful or not."""

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert server.transport is not None and envelope.mail_from is not None
        encrypted = server.transport.get_extra_info("sslcontext") is not None
        self.arrivals.append(Arrival(envelope.mail_from, encrypted))
        return "250 OK queued"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append(data.login.decode())
        return AuthResult(success=data == LoginPassword(b"nudge", b"s3cret"))


@asynccontextmanager
async def tls_relay(
    *, implicit: ssl.SSLContext | None = None, starttls: ssl.SSLContext | None = None
) -> AsyncIterator[TlsRelay]:
    """aiosmtpd on 127.0.0.1: implicit TLS, STARTTLS offered, or plain; AUTH offered even
    in plain text (as a careless relay would), so that the client's own refusal is tested."""
    relay = TlsRelay(0)
    loop = asyncio.get_running_loop()

    def protocol() -> SMTP:
        return SMTP(
            relay,
            hostname=RELAY,
            tls_context=starttls,
            authenticator=relay.authenticate,
            auth_require_tls=False,
            loop=loop,
        )

    server = await loop.create_server(protocol, "127.0.0.1", 0, ssl=implicit)
    relay.port = server.sockets[0].getsockname()[1]
    try:
        yield relay
    finally:
        server.close()


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCa:
    return TestCa.create(tmp_path_factory.mktemp("smtp-ca"))


@pytest.fixture(scope="module")
def relay_tls(ca: TestCa) -> ssl.SSLContext:
    """The server side of TLS for `relay.nudge.test`, signed by `ca`."""
    cert, key = ca.leaf(RELAY)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def relay_sender(relay: TlsRelay, *, host: str = RELAY, **settings: Any) -> SmtpSender:
    options: dict[str, Any] = {"timeout_s": 5, "pool_size": 1, **settings}
    return SmtpSender(
        EmailSettings(host=host, port=465, **options), resolve_to=("127.0.0.1", relay.port)
    )


CREDENTIALS: dict[str, Any] = {"username": "nudge", "password": SecretStr("s3cret")}


async def test_implicit_tls_with_the_private_ca_and_auth(
    ca: TestCa, relay_tls: ssl.SSLContext
) -> None:
    async with tls_relay(implicit=relay_tls) as relay:
        sender = relay_sender(relay, security="tls", ca_file=ca.cert, **CREDENTIALS)
        try:
            await sender.send(marketing_email(1))
        finally:
            await sender.close()
    assert relay.arrivals == [Arrival("hello@demo-coffee.example", tls=True)]
    assert relay.logins == ["nudge"]


@pytest.mark.parametrize(
    ("host", "trust", "refusal"),
    [
        (RELAY, False, "certificate verify failed"),  # the system CAs do not know ours
        ("mail.nudge.test", True, "mismatch"),  # ours, but for another name
    ],
)
async def test_implicit_tls_refuses_a_certificate_it_cannot_trust(
    ca: TestCa, relay_tls: ssl.SSLContext, host: str, trust: bool, refusal: str
) -> None:
    async with tls_relay(implicit=relay_tls) as relay:
        ca_file = ca.cert if trust else None
        sender = relay_sender(relay, host=host, security="tls", ca_file=ca_file, **CREDENTIALS)
        with pytest.raises(ProviderConfigError) as caught:
            await sender.send(marketing_email(1))
        await sender.close()
    assert refusal in caught.value.reason and host in caught.value.reason
    assert not caught.value.maybe_sent
    assert (relay.arrivals, relay.logins) == ([], [])


async def test_opportunistic_upgrades_when_the_relay_offers_starttls(
    ca: TestCa, relay_tls: ssl.SSLContext
) -> None:
    async with tls_relay(starttls=relay_tls) as relay:
        sender = relay_sender(relay, ca_file=ca.cert, **CREDENTIALS)  # opportunistic: default
        try:
            await sender.send(marketing_email(1))
        finally:
            await sender.close()
    assert relay.arrivals == [Arrival("hello@demo-coffee.example", tls=True)]
    assert relay.logins == ["nudge"]


async def test_opportunistic_never_falls_back_to_plain_text_over_a_refused_certificate(
    relay_tls: ssl.SSLContext,
) -> None:
    async with tls_relay(starttls=relay_tls) as relay:
        sender = relay_sender(relay, **CREDENTIALS)  # no ca_file: the system CAs
        with pytest.raises(ProviderConfigError, match="certificate verify failed"):
            await sender.send(marketing_email(1))
        await sender.close()
    assert (relay.arrivals, relay.logins) == ([], [])


async def test_opportunistic_stays_plain_when_starttls_is_not_offered() -> None:
    async with tls_relay() as relay:
        sender = relay_sender(relay)
        try:
            await sender.send(marketing_email(1))
        finally:
            await sender.close()
    assert relay.arrivals == [Arrival("hello@demo-coffee.example", tls=False)]


async def test_no_auth_over_plain_text_to_a_relay_that_is_not_loopback() -> None:
    """The relay offers AUTH without STARTTLS; its name is not loopback (even though the test
    reaches it on 127.0.0.1): the password stays home and the channel pauses."""
    async with tls_relay() as relay:
        sender = relay_sender(relay, **CREDENTIALS)
        with pytest.raises(ProviderConfigError, match="refusing to send NUDGE_SMTP_PASSWORD"):
            await sender.send(marketing_email(1))
        await sender.close()
        loopback = relay_sender(relay, host="127.0.0.1", **CREDENTIALS)
        try:
            await loopback.send(marketing_email(2))  # the same relay as 127.0.0.1: allowed
        finally:
            await loopback.close()
    assert relay.logins == ["nudge"]
    assert relay.arrivals == [Arrival("hello@demo-coffee.example", tls=False)]


async def test_required_starttls_that_is_not_offered_pauses_the_channel() -> None:
    async with tls_relay() as relay:
        sender = relay_sender(relay, security="starttls")
        with pytest.raises(ProviderConfigError, match="STARTTLS"):
            await sender.send(marketing_email(1))
        await sender.close()
    assert relay.arrivals == []
