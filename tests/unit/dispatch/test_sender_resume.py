"""A sender that dies mid-send leaves its rows `sending`; once their lease runs out another
sender resumes them: an email goes out again under the same Message-ID (the relay recognises
the repeat), an SMS is first looked for at the provider, which has no idempotency key."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from services.dispatch.stores.memory import MemoryContactStore
from shared.events.shop import Channel
from tests.support.dispatch_factories import cart_fired, contact, rig

SHOP = "acme"


async def test_an_email_is_resent_with_the_same_message_id() -> None:
    first = rig(lease_s=30)
    fired = cart_fired(SHOP, "c1", channels=("email",))
    await first.enqueue(fired, facts=[contact(SHOP, "c1")])
    first.delivery.hang.add(Channel.EMAIL)
    await first.crash_mid_send()
    row = first.store.message(fired.id)
    assert (row.state, row.channel) == ("sending", Channel.EMAIL)

    second = first.restarted(lease_s=30)
    second.delivery.hang.clear()
    assert await second.round() == 0, "leased to the sender that died"
    second.clock.advance(31)
    assert await second.round() == 1

    row = second.store.message(fired.id)
    assert (row.state, row.attempts) == ("sent", 2)
    assert [e["message_id"] for e in second.delivery.emails] == [row.message_id] * 2


async def test_an_sms_the_provider_took_is_recorded_as_sent_not_sent_again() -> None:
    first = rig(lease_s=30)
    fired = cart_fired(SHOP, "c1", channels=("sms",))
    await first.enqueue(fired, facts=[contact(SHOP, "c1")])
    first.delivery.hang.add(Channel.SMS)
    await first.crash_mid_send()
    (taken,) = first.delivery.texts
    labels = {"channel": "sms", "status": "sent", "reason": "reconciled"}
    before = REGISTRY.get_sample_value("nudge_dispatch_messages_total", labels) or 0.0

    second = first.restarted(lease_s=30)
    second.delivery.hang.clear()
    second.clock.advance(31)
    await second.round()

    row = second.store.message(fired.id)
    assert (row.state, row.provider_id) == ("sent", taken.sid)
    assert second.delivery.texts == [taken], "no second text"
    assert REGISTRY.get_sample_value("nudge_dispatch_messages_total", labels) == before + 1


async def test_a_round_that_fails_after_claiming_gives_its_rows_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At once and uncounted, instead of holding the customer's other messages until the
    lease runs out."""
    r = rig(claim_batch=1)
    fired = [cart_fired(SHOP, "c1", journey=j, channels=("email",)) for j in ("j-1", "j-2")]
    await r.enqueue(*fired, facts=[contact(SHOP, "c1")])

    async def broken(*_: object) -> None:
        raise RuntimeError("the contacts could not be read")

    monkeypatch.setattr(MemoryContactStore, "load", broken)
    with pytest.raises(RuntimeError):
        await r.round()

    rows = [r.store.message(f.id) for f in fired]
    assert [(m.state, m.attempts) for m in rows] == [("queued", 0), ("queued", 0)]
