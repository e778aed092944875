"""An SMS resumed after a crash is matched to at most one provider message: looked up by the
body recorded with its attempt, never by a provider message already matched to another row,
and sent again as recorded when the provider has none."""

from __future__ import annotations

from pathlib import Path

from services.dispatch.providers.base import TransientSendError
from shared.events.shop import Channel
from shared.events.triggers import TriggerFiredEvent
from tests.support.dispatch_factories import (
    PHONE,
    RELAXED_SHOP,
    Rig,
    cart_fired,
    contact,
    rig,
)

SHOP = "acme"
NEW_WORDING = "{{ shop.name | gsm }}: new wording, your cart: {{ cart.url }}\n"


def relaxed(tmp_path: Path, **settings: object) -> Rig:
    """A shop whose texts to one customer are identical, and never capped."""
    shops = tmp_path / "shops"
    shops.mkdir(exist_ok=True)
    (shops / f"{SHOP}.yaml").write_text(RELAXED_SHOP)
    return rig(shops_dir=shops, **settings)  # type: ignore[arg-type]


def reworded(tmp_path: Path) -> Path:
    """The shop's own SMS for the cart step, different from the built-in one."""
    folder = tmp_path / "templates" / SHOP / "en" / "cart"
    folder.mkdir(parents=True)
    (folder / "reminder-2.sms.j2").write_text(NEW_WORDING)
    return tmp_path / "templates"


def texts(journeys: int) -> list[TriggerFiredEvent]:
    return [cart_fired(SHOP, "c1", journey=f"j-{n}", channels=("sms",)) for n in range(journeys)]


async def test_an_identical_text_already_matched_to_a_row_is_not_taken_for_another(
    tmp_path: Path,
) -> None:
    """The second of two identical texts timed out before the provider had it: the first
    one's provider message is not it, so it is sent."""
    r = relaxed(tmp_path)
    first, second = texts(2)
    await r.enqueue(first, facts=[contact(SHOP, "c1")])
    await r.round()
    (sent,) = r.delivery.texts
    await r.enqueue(second)
    r.delivery.fail(Channel.SMS, TransientSendError("read timeout", maybe_sent=True))
    await r.round()
    assert r.store.message(second.id).state == "retrying"

    r.clock.advance(300)
    await r.round()

    assert [t.body for t in r.delivery.texts] == [sent.body] * 2, "two identical texts"
    assert r.delivery.finds[-1]["taken"] >= {sent.sid}
    ids = {r.store.message(f.id).provider_id for f in (first, second)}
    assert ids == {t.sid for t in r.delivery.texts}


async def test_two_identical_texts_the_provider_took_match_one_each(tmp_path: Path) -> None:
    """Two senders each died after the provider took one of two identical texts."""
    one = relaxed(tmp_path, claim_batch=1, lease_s=30)
    first, second = texts(2)
    await one.enqueue(first, second, facts=[contact(SHOP, "c1")])
    one.delivery.hang.add(Channel.SMS)
    await one.crash_mid_send()
    other = one.restarted(claim_batch=1, lease_s=30, shops_dir=tmp_path / "shops")
    await other.crash_mid_send()
    assert len(one.delivery.texts) == 2

    third = one.restarted(lease_s=30, shops_dir=tmp_path / "shops")
    third.delivery.hang.clear()
    third.clock.advance(31)
    assert await third.round() == 2

    rows = [third.store.message(f.id) for f in (first, second)]
    assert {m.state for m in rows} == {"sent"}
    assert {m.provider_id for m in rows} == {t.sid for t in third.delivery.texts}
    assert len(third.delivery.texts) == 2, "nothing sent a third time"


async def test_a_resumed_text_is_looked_up_by_the_body_it_was_sent_with(tmp_path: Path) -> None:
    """The template changed between the attempt and the resume."""
    first = rig(lease_s=30)
    (fired,) = texts(1)
    await first.enqueue(fired, facts=[contact(SHOP, "c1")])
    first.delivery.hang.add(Channel.SMS)
    await first.crash_mid_send()
    (taken,) = first.delivery.texts
    assert first.store.message(fired.id).sent_body == taken.body

    second = first.restarted(lease_s=30, templates_dir=reworded(tmp_path))
    second.delivery.hang.clear()
    second.clock.advance(31)
    await second.round()

    assert second.delivery.finds[-1]["body"] == taken.body
    row = second.store.message(fired.id)
    assert (row.state, row.provider_id) == ("sent", taken.sid)
    assert second.delivery.texts == [taken]


async def test_a_text_the_provider_never_got_is_sent_as_recorded_once(tmp_path: Path) -> None:
    first = rig(lease_s=30)
    (fired,) = texts(1)
    await first.enqueue(fired, facts=[contact(SHOP, "c1")])
    first.delivery.stall.add(Channel.SMS)
    await first.crash_mid_send()
    assert first.delivery.texts == []
    recorded = first.store.message(fired.id).sent_body
    assert recorded is not None and "new wording" not in recorded

    second = first.restarted(lease_s=30, templates_dir=reworded(tmp_path))
    second.delivery.stall.clear()
    second.clock.advance(31)
    await second.round()

    (sent,) = second.delivery.texts
    assert (sent.to, sent.body) == (PHONE, recorded), "the recorded body, not a re-render"
    row = second.store.message(fired.id)
    assert (row.state, row.provider_id) == ("sent", sent.sid)
