"""Provider pauses: consecutive transient failures rest the channel (the messages wait, their
attempts refunded) until the pause is over; a provider misconfigured (a redirect, a proxy
asking for credentials, a refused certificate) rests it for the longest pause at once and
says why, without spending the message's attempts."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import REGISTRY

from services.dispatch.providers.base import ProviderConfigError, TransientSendError
from shared.events.shop import Channel
from tests.support.dispatch_factories import cart_fired, contact, rig

SHOP = "acme"
PAUSED = "provider paused after repeated failures"


async def test_repeated_failures_pause_the_channel_until_the_pause_is_over() -> None:
    r = rig(circuit_failures=2, in_flight=1)
    fired = [cart_fired(SHOP, f"c{n}", channels=("email",)) for n in range(3)]
    await r.enqueue(*fired, facts=[contact(SHOP, f"c{n}") for n in range(3)])
    r.delivery.fail(Channel.EMAIL, TransientSendError("timeout"), TransientSendError("timeout"))

    await r.round()
    assert r.delivery.calls == 2, "the third message waits: the provider rests"
    rested = r.store.message(fired[2].id)
    assert (rested.state, rested.reason, rested.attempts) == ("retrying", PAUSED, 0)
    circuit = r.dispatch.circuits[Channel.EMAIL]
    assert circuit.is_open()

    r.clock.advance(circuit.remaining_s() / 2)
    assert circuit.is_open()
    r.clock.advance(10)  # past the pause and every backoff
    assert not circuit.is_open()
    assert await r.round() == 3
    assert {r.store.message(f.id).state for f in fired} == {"sent"}


async def test_a_misconfigured_provider_pauses_the_channel_at_once_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    r = rig(circuit_max_pause_s=60, max_attempts=2, in_flight=1)
    fired = [cart_fired(SHOP, f"c{n}", channels=("email",)) for n in range(2)]
    await r.enqueue(*fired, facts=[contact(SHOP, f"c{n}") for n in range(2)])
    labels = {"channel": "email", "status": "retrying", "reason": "provider misconfigured"}
    before = REGISTRY.get_sample_value("nudge_dispatch_messages_total", labels) or 0.0
    r.delivery.fail(
        Channel.EMAIL,
        ProviderConfigError("certificate refused: self-signed certificate"),
        TransientSendError("timeout"),
    )

    with caplog.at_level(logging.ERROR, logger="services.dispatch.sender"):
        await r.round()

    assert r.delivery.calls == 1, "the channel paused after the first answer"
    first, second = (r.store.message(f.id) for f in fired)
    assert first.state == "retrying" and first.attempts == 0, "no attempt spent"
    assert first.reason == "provider misconfigured: certificate refused: self-signed certificate"
    assert (second.state, second.reason, second.attempts) == ("retrying", PAUSED, 0)
    assert first.next_attempt_at == r.clock.after(60)
    (logged,) = caplog.records
    assert "NUDGE_SMTP_*" in logged.getMessage() and "misconfigured" in logged.getMessage()
    after = REGISTRY.get_sample_value("nudge_dispatch_messages_total", labels)
    assert after == before + 1
    status = r.producer.statuses(fired[0].id)[-1]
    assert (status["status"], status["reason"]) == ("deferred", first.reason)

    r.clock.advance(30)
    assert await r.round() == 0, "paused for the longest pause"
    r.clock.advance(31)
    await r.round()
    retried = r.store.message(fired[0].id)
    assert (retried.state, retried.attempts) == ("retrying", 1), "one attempt of two spent"
    assert r.store.message(fired[1].id).state == "sent"
