"""A consent change as a `feedback.events.v1` record, with an id that makes a repeat harmless.

Every consumer merges consent by time (the newest statement wins, ties included) and triggers
also drops an event id it has seen, so an id must name one fact, never two:

- a one-click POST acts on the consent the directory holds for that channel: its id derives
  from the customer, the channel and the held statement's time. A mailbox provider's retry,
  or a double click, before the directory has learnt of the first record, gets the same id;
  one after it gets a new id but changes nothing (consent is already withdrawn everywhere).
  A withdrawal is published even when the directory already says "withdrawn": the directory
  may lag behind a newer grant that dispatch has, and an opt-out must never be lost to that.
- a preference form acts once per form shown: its id derives from the form's nonce
  (preference_form.py), so submitting one form twice repeats one fact, and a form shown
  later (after a change of mind) is a new one.

The event's time is now, or the held statement's time if that is later (a shop's clock ahead
of ours, a demo's scaled clock): the customer's own choice, made after every statement we
know of, must not lose the by-time merge to one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.feedback.directory import Contact, ContactRef
from shared.events import derived_event_id
from shared.events.feedback import (
    CategoryPreference,
    CategoryPreferenceEvent,
    ConsentChange,
    ConsentGrantedEvent,
    ConsentWithdrawnEvent,
)
from shared.events.shop import Channel

ONE_CLICK = "one_click"
PREFERENCE_CENTER = "preference_center"
_NEVER = "never"


@dataclass(frozen=True)
class HeldConsent:
    """Marketing consent on one channel as the directory holds it (None: never stated)."""

    granted: bool | None
    at: datetime | None


def held(contact: Contact | None, channel: Channel) -> HeldConsent:
    if contact is None:
        return HeldConsent(None, None)
    if channel is Channel.EMAIL:
        return HeldConsent(contact.email_consent, contact.email_consent_at)
    return HeldConsent(contact.sms_consent, contact.sms_consent_at)


def one_click_origin(ref: ContactRef, channel: Channel, consent: HeldConsent) -> str:
    """The origin id of a one-click withdrawal acting on `consent`."""
    version = consent.at.isoformat() if consent.at is not None else _NEVER
    return "\x1f".join((ref.customer_id, channel.value, str(consent.granted), version))


def form_origin(nonce: str, channel: Channel, granted: bool) -> str:
    """The origin id of one choice made on one preference form."""
    return "\x1f".join((nonce, channel.value, "granted" if granted else "withdrawn"))


def consent_event(
    ref: ContactRef,
    channel: Channel,
    *,
    granted: bool,
    source: str,
    origin_id: str,
    consent: HeldConsent,
    now: datetime,
) -> ConsentWithdrawnEvent | ConsentGrantedEvent:
    """The record for one change; `origin_id` from `one_click_origin` or `form_origin`."""
    at = max(now, consent.at) if consent.at is not None else now
    event_type = ConsentGrantedEvent if granted else ConsentWithdrawnEvent
    return event_type(
        id=derived_event_id(ref.shop_id, source, origin_id),
        source=f"/shops/{ref.shop_id}/feedback",
        time=at,
        shopid=ref.shop_id,
        customerid=ref.customer_id,
        data=ConsentChange(channel=channel, source=source),
    )


def category_event(
    ref: ContactRef, category: str, *, subscribed: bool, nonce: str, now: datetime
) -> CategoryPreferenceEvent:
    """The record for one category kept or dropped on one preference form (its id from the
    form's nonce, as for channels: one form submitted twice is one fact)."""
    choice = "kept" if subscribed else "dropped"
    origin_id = "\x1f".join((nonce, f"category:{category}", choice))
    return CategoryPreferenceEvent(
        id=derived_event_id(ref.shop_id, PREFERENCE_CENTER, origin_id),
        source=f"/shops/{ref.shop_id}/feedback",
        time=now,
        shopid=ref.shop_id,
        customerid=ref.customer_id,
        data=CategoryPreference(category=category, subscribed=subscribed, source=PREFERENCE_CENTER),
    )
