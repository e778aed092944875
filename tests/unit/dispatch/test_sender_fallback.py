"""A permanent refusal about the address marks it unusable and decides the message again at
once, so it falls back to the other channel; a refusal of the message itself fails it and
leaves the address usable."""

from __future__ import annotations

from services.dispatch.providers.base import PermanentSendError
from shared.events.shop import Channel
from tests.support.dispatch_factories import PHONE, cart_fired, contact, rig

SHOP = "acme"


async def test_an_email_refused_for_its_address_falls_back_to_sms() -> None:
    r = rig()
    fired = cart_fired(SHOP, "c1")  # email, then sms
    await r.enqueue(fired, facts=[contact(SHOP, "c1")])
    r.delivery.fail(Channel.EMAIL, PermanentSendError("550 5.1.1 no such user", code=550))

    await r.round()
    row = r.store.message(fired.id)
    assert (row.state, row.reason) == ("queued", "email rejected: 550 5.1.1 no such user")
    async with r.store.transaction() as tx:
        known = (await tx.contacts.load({(SHOP, "c1")}))[(SHOP, "c1")]
    assert known.email.undeliverable == "email rejected: 550 5.1.1 no such user"

    await r.round()
    row = r.store.message(fired.id)
    assert (row.state, row.channel, row.address) == ("sent", Channel.SMS, PHONE)
    assert [t.to for t in r.delivery.texts] == [PHONE]
    said = [(s["status"], s.get("channel")) for s in r.producer.statuses(fired.id)]
    assert said == [("queued", "email"), ("sent", "sms")]


async def test_a_refusal_of_the_message_fails_it_and_keeps_the_address() -> None:
    r = rig()
    fired = cart_fired(SHOP, "c1")
    await r.enqueue(fired, facts=[contact(SHOP, "c1")])
    r.delivery.fail(Channel.EMAIL, PermanentSendError("554 message rejected as spam", code=554))

    await r.round()
    row = r.store.message(fired.id)
    assert row.state == "failed"
    assert row.reason == "email refused the message: 554 message rejected as spam"
    async with r.store.transaction() as tx:
        known = (await tx.contacts.load({(SHOP, "c1")}))[(SHOP, "c1")]
    assert known.email.undeliverable is None
    assert r.delivery.texts == []
