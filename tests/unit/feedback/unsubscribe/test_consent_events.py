"""Consent changes as events: one id per fact, and a time no known statement can beat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.feedback.directory import Contact, ContactRef
from services.feedback.unsubscribe.consent_events import (
    ONE_CLICK,
    PREFERENCE_CENTER,
    HeldConsent,
    consent_event,
    form_origin,
    held,
    one_click_origin,
)
from shared.events.feedback import ConsentGrantedEvent, ConsentWithdrawnEvent
from shared.events.shop import Channel

REF = ContactRef("acme", "c1")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
GRANTED = HeldConsent(True, NOW - timedelta(days=30))


def withdrawal(consent: HeldConsent, now: datetime = NOW) -> ConsentWithdrawnEvent:
    event = consent_event(
        REF,
        Channel.EMAIL,
        granted=False,
        source=ONE_CLICK,
        origin_id=one_click_origin(REF, Channel.EMAIL, consent),
        consent=consent,
        now=now,
    )
    assert isinstance(event, ConsentWithdrawnEvent)
    return event


def test_a_one_click_withdrawal_is_keyed_to_the_customer_and_says_how() -> None:
    event = withdrawal(GRANTED)
    assert event.type == "consent.withdrawn"
    assert event.key == "acme:c1"
    assert (event.data.channel, event.data.source) == (Channel.EMAIL, "one_click")
    assert event.time == NOW
    assert event.source == "/shops/acme/feedback"


def test_a_repeat_on_the_same_held_consent_is_the_same_fact() -> None:
    first = withdrawal(GRANTED)
    retry = withdrawal(GRANTED, NOW + timedelta(seconds=3))
    assert retry.id == first.id  # consumers drop it: no second effect


def test_after_a_newer_statement_a_withdrawal_is_a_new_fact() -> None:
    """Withdraw, grant again on the page, withdraw again: the second withdrawal must not be
    dropped as a duplicate of the first (triggers drops ids it has seen)."""
    first = withdrawal(GRANTED)
    regranted = HeldConsent(True, NOW + timedelta(minutes=5))
    again = withdrawal(regranted, NOW + timedelta(minutes=6))
    assert again.id != first.id
    assert withdrawal(HeldConsent(None, None)).id not in (first.id, again.id)
    assert withdrawal(HeldConsent(False, GRANTED.at)).id != first.id  # another state held


def test_the_choice_is_never_older_than_a_statement_we_know() -> None:
    ahead = HeldConsent(True, NOW + timedelta(hours=2))  # a shop clock ahead, a demo clock
    assert withdrawal(ahead).time == ahead.at  # ties go to the newer record everywhere


def test_one_form_submitted_twice_is_one_fact_per_channel_and_direction() -> None:
    def grant(nonce: str, channel: Channel) -> ConsentGrantedEvent:
        event = consent_event(
            REF,
            channel,
            granted=True,
            source=PREFERENCE_CENTER,
            origin_id=form_origin(nonce, channel, True),
            consent=HeldConsent(False, NOW),
            now=NOW,
        )
        assert isinstance(event, ConsentGrantedEvent)
        return event

    assert grant("n1", Channel.SMS).id == grant("n1", Channel.SMS).id
    assert grant("n1", Channel.SMS).id != grant("n2", Channel.SMS).id  # another page shown
    assert grant("n1", Channel.SMS).id != grant("n1", Channel.EMAIL).id
    assert grant("n1", Channel.SMS).data.source == "preference_center"


def test_held_reads_the_channel_asked_for() -> None:
    contact = Contact(REF, "a@example.com", "+31612345678", True, False, NOW, NOW + timedelta(1))
    assert held(contact, Channel.EMAIL) == HeldConsent(True, NOW)
    assert held(contact, Channel.SMS) == HeldConsent(False, NOW + timedelta(1))
    assert held(None, Channel.SMS) == HeldConsent(None, None)
