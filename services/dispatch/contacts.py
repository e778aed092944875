"""The contact store: kept current from shop events and feedback, by dispatch itself.

Each fact is merged, never overwritten blindly: contact fields only when the event names them,
consent per channel only when the statement is at least as recent as the stored one (a stale
shop sync cannot undo an SMS STOP), and a number the provider refused stays unusable until the
customer gives a different one (one it blocked for an opt-out: until a newer consent).

Email addresses are suppressed per shop and address (`dispatch_suppressions`), whoever of the
shop's customers holds them: a hard bounce or repeated transient bounces (`address.suppressed`)
stop email of any kind, a complaint stops marketing email; each holds until an operator clears
it (`address.unsuppressed`, which also lifts the sender's own marks on that address). A
suppression counts while it is newer than the last clearing, so a bounce delivered again after
a clearing changes nothing. `load` reads them with the contact: the sender honours them at
send time, whatever was queued before.

Campaign categories a customer dropped on the preference page (`category.preference_changed`)
are kept per customer and category (`dispatch_category_preferences`), the newest choice
winning; a marketing message of a dropped category is skipped as `opted_out`.

What the segmenter's profile says of the customer (the preferred channel, the monetary score:
profiles.py) is kept apart, in `dispatch_profiles`, and read here with the contact, in the same
query: a profile never makes an unknown contact known.

The facts are stored through the `ContactStore` port (ports.py; stores/ hold its adapters).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.events import FeedbackEvent, ShopEvent
from shared.events import catalog as shop_events
from shared.events import feedback as fb
from shared.events.shop import (
    Channel,
    ChannelConsent,
    ConsentStatus,
    CustomerData,
    SubscriptionStatus,
)

FIELDS = ("email", "phone", "first_name", "last_name", "locale", "time_zone")
OPTED_OUT = "opted out at the provider"
"""In an address's undeliverable reason: the provider refused it because the customer opted
out there (an SMS STOP). A newer consent grant on that channel (START, a preference centre)
lifts it, as the provider does; a bounce or an invalid number stays until the address changes."""
CHANNELS = ("email", "sms")
WITHDRAWN = "withdrawn:"
"""Before a stored consent source: the statement was the customer withdrawing consent (an SMS
STOP, a one-click unsubscribe, an unsubscribe the shop reports, an opt-out the provider
reported), not consent never given or denied in the shop's profile; the policy then says
`opted_out` rather than `no_consent`. Statements stored before the mark read as `no_consent`."""
PROVIDER_OPT_OUT_CODE = "21610"
"""Twilio's code for a number that opted out at Twilio: consent withdrawn and the number
blocked until a new opt-in, as for dispatch's own refusals with that code (sender.py)."""


@dataclass(frozen=True)
class ConsentFact:
    granted: bool
    at: datetime
    source: str
    withdrawn: bool = False
    """Not granted because the customer withdrew it (see WITHDRAWN)."""

    @property
    def stored_source(self) -> str:
        return (WITHDRAWN + self.source)[:100] if self.withdrawn else self.source


@dataclass(frozen=True)
class AddressFact:
    """An email address of the shop suppressed (`scope`: all email or marketing, with the
    reason) as of `at`, or, without a scope, every suppression of it cleared as of `at`."""

    address: str
    """Lower-cased."""
    at: datetime
    scope: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class ContactFacts:
    """What one event says about a contact; None everywhere it says nothing."""

    shop_id: str
    customer_id: str
    fields: dict[str, str | None]
    consent: dict[str, ConsentFact]
    undeliverable: dict[str, str]
    addresses: tuple[AddressFact, ...] = ()
    categories: dict[str, ConsentFact] = field(default_factory=dict)
    """Campaign categories the customer kept (granted) or dropped on the preference page."""


FACT_EVENTS: tuple[type[ShopEvent | FeedbackEvent], ...] = (
    shop_events.CustomerCreatedEvent,
    shop_events.CustomerUpdatedEvent,
    shop_events.SubscriptionChangedEvent,
    fb.ConsentWithdrawnEvent,
    fb.ConsentGrantedEvent,
    fb.CategoryPreferenceEvent,
    fb.ComplaintReceivedEvent,
    fb.EmailBouncedEvent,
    fb.AddressSuppressedEvent,
    fb.AddressUnsuppressedEvent,
    fb.SmsDeliveryFailedEvent,
)
"""The event types `facts_from` reads; it finds nothing in any other."""


def facts_from(event: ShopEvent | FeedbackEvent) -> ContactFacts | None:
    """The contact facts an event carries, or None when it carries none (or no customer)."""
    if event.customerid is None:
        return None
    fields: dict[str, str | None] = {}
    consent: dict[str, ConsentFact] = {}
    undeliverable: dict[str, str] = {}
    addresses: tuple[AddressFact, ...] = ()
    categories: dict[str, ConsentFact] = {}
    data: Any = event.data
    if isinstance(event, shop_events.CustomerCreatedEvent | shop_events.CustomerUpdatedEvent):
        customer: CustomerData = data
        fields = {name: _text(getattr(customer, name)) for name in FIELDS}
        for channel in CHANNELS:
            given: ChannelConsent | None = getattr(customer.consent, channel)
            if given is not None:
                granted = given.status is ConsentStatus.GRANTED
                consent[channel] = ConsentFact(granted, given.recorded_at, given.source)
    elif isinstance(event, shop_events.SubscriptionChangedEvent):
        granted = data.status is SubscriptionStatus.SUBSCRIBED
        fact = ConsentFact(granted, event.time, data.source, withdrawn=not granted)
        consent[data.channel.value] = fact
        fields = {"email": _text(data.email), "phone": _text(data.phone)}
    elif isinstance(event, fb.ConsentWithdrawnEvent | fb.ConsentGrantedEvent):
        granted = isinstance(event, fb.ConsentGrantedEvent)
        fact = ConsentFact(granted, event.time, data.source, withdrawn=not granted)
        consent[data.channel.value] = fact
    elif isinstance(event, fb.CategoryPreferenceEvent):
        categories[data.category] = ConsentFact(data.subscribed, event.time, data.source)
    elif isinstance(event, fb.ComplaintReceivedEvent):
        addresses = (_suppressed(data.email, event.time, MARKETING, "complaint: marked as spam"),)
    elif isinstance(event, fb.EmailBouncedEvent):
        if data.kind is not fb.BounceKind.HARD:
            return None
        reason = f"hard bounce: {data.diagnostic or 'no detail'}"
        addresses = (_suppressed(data.email, event.time, ALL, reason),)
    elif isinstance(event, fb.AddressSuppressedEvent):
        reason = f"{data.reason}: {data.detail or 'no detail'}"
        addresses = (_suppressed(data.email, event.time, data.scope.value, reason),)
    elif isinstance(event, fb.AddressUnsuppressedEvent):
        addresses = (AddressFact(str(data.email).lower(), event.time),)
    elif isinstance(event, fb.SmsDeliveryFailedEvent):
        if not data.permanent:
            return None
        if data.error_code == PROVIDER_OPT_OUT_CODE:  # opted out at Twilio: START lifts it
            undeliverable[Channel.SMS.value] = f"{OPTED_OUT} ({data.error_code})"
            consent[Channel.SMS.value] = ConsentFact(False, event.time, "provider", withdrawn=True)
        else:
            undeliverable[Channel.SMS.value] = f"permanent failure {data.error_code or ''}".strip()
    else:
        return None
    return ContactFacts(
        event.shopid, event.customerid, fields, consent, undeliverable, addresses, categories
    )


ALL = "all"
MARKETING = "marketing"


def _suppressed(email: object, at: datetime, scope: str, reason: str) -> AddressFact:
    return AddressFact(str(email).lower(), at, scope, reason[:300])


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _withdrawn(row: Any, channel: str) -> bool:
    """Whether the channel's consent is False because the customer withdrew it."""
    source = row[f"{channel}_consent_source"] or ""
    return row[f"{channel}_consent"] is False and source.startswith(WITHDRAWN)
