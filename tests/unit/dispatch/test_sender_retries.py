"""Transient provider failures: the message is kept and retried after a jittered backoff, and
after `max_attempts` it fails with its trigger parked on `messages.dlq.v1`."""

from __future__ import annotations

from services.dispatch.providers.base import TransientSendError
from shared.events.shop import Channel
from shared.topics import TRIGGERS_FIRED
from tests.support.dispatch_factories import cart_fired, contact, rig

SHOP = "acme"


async def test_a_transient_failure_is_retried_after_a_backoff() -> None:
    r = rig(backoff_base_s=2, backoff_cap_s=300)
    fired = cart_fired(SHOP, "c1", channels=("email",))
    await r.enqueue(fired, facts=[contact(SHOP, "c1")])
    r.delivery.fail(Channel.EMAIL, TransientSendError("421 try again later", code=421))

    assert await r.round() == 1
    row = r.store.message(fired.id)
    assert (row.state, row.attempts, row.reason) == ("retrying", 1, "421 try again later")
    assert row.next_attempt_at is not None
    delay = (row.next_attempt_at - r.clock.now()).total_seconds()
    assert 2 <= delay <= 4, "full jitter between half the ceiling (2 s x 2^1) and the ceiling"
    assert await r.round() == 0, "not due before its backoff"

    r.clock.advance(delay)
    assert await r.round() == 1
    row = r.store.message(fired.id)
    assert (row.state, row.attempts) == ("sent", 2)
    assert [e["message_id"] for e in r.delivery.emails] == [row.message_id]
    said = [(s["status"], s.get("reason")) for s in r.producer.statuses(fired.id)]
    assert said == [("deferred", "421 try again later"), ("sent", None)]


async def test_the_last_attempt_gives_up_and_parks_the_trigger() -> None:
    r = rig(max_attempts=2)
    fired = cart_fired(SHOP, "c1", channels=("email",))
    await r.enqueue(fired, facts=[contact(SHOP, "c1")])
    r.delivery.fail(
        Channel.EMAIL, TransientSendError("timeout"), TransientSendError("451 local error")
    )

    await r.round()
    r.clock.advance(300)
    await r.round()

    row = r.store.message(fired.id)
    assert (row.state, row.attempts) == ("failed", 2)
    assert row.reason == "gave up after 2 attempts: 451 local error"
    assert r.delivery.emails == []
    (letter,) = r.producer.dead_letters()
    assert (letter.source_topic, letter.service) == (TRIGGERS_FIRED.name, "dispatch")
    assert letter.reason == row.reason
    assert letter.parked_at == r.clock.now()
    assert fired.data.model_dump_json(exclude_none=True) == letter.payload
    assert r.producer.statuses(fired.id)[-1]["status"] == "failed"
