"""The contact store: kept current from shop events and feedback, by dispatch itself.

Each fact is merged, never overwritten blindly: contact fields only when the event names them,
consent per channel only when the statement is at least as recent as the stored one (a stale
shop sync cannot undo an SMS STOP), and an address that bounced hard stays unusable until the
customer gives a different one (one the provider blocked for an opt-out: until a newer consent).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.dispatch.policy import ChannelState, Contact
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

_FIELDS = ("email", "phone", "first_name", "last_name", "locale", "time_zone")
OPTED_OUT = "opted out at the provider"
"""In an address's undeliverable reason: the provider refused it because the customer opted
out there (an SMS STOP). A newer consent grant on that channel (START, a preference centre)
lifts it, as the provider does; a bounce or an invalid number stays until the address changes."""
_CHANNELS = ("email", "sms")


@dataclass(frozen=True)
class ConsentFact:
    granted: bool
    at: datetime
    source: str


@dataclass(frozen=True)
class ContactFacts:
    """What one event says about a contact; None everywhere it says nothing."""

    shop_id: str
    customer_id: str
    fields: dict[str, str | None]
    consent: dict[str, ConsentFact]
    undeliverable: dict[str, str]


def facts_from(event: ShopEvent | FeedbackEvent) -> ContactFacts | None:
    """The contact facts an event carries, or None when it carries none (or no customer)."""
    if event.customerid is None:
        return None
    fields: dict[str, str | None] = {}
    consent: dict[str, ConsentFact] = {}
    undeliverable: dict[str, str] = {}
    data: Any = event.data
    if isinstance(event, shop_events.CustomerCreatedEvent | shop_events.CustomerUpdatedEvent):
        customer: CustomerData = data
        fields = {name: _text(getattr(customer, name)) for name in _FIELDS}
        for channel in _CHANNELS:
            given: ChannelConsent | None = getattr(customer.consent, channel)
            if given is not None:
                granted = given.status is ConsentStatus.GRANTED
                consent[channel] = ConsentFact(granted, given.recorded_at, given.source)
    elif isinstance(event, shop_events.SubscriptionChangedEvent):
        granted = data.status is SubscriptionStatus.SUBSCRIBED
        consent[data.channel.value] = ConsentFact(granted, event.time, data.source)
        fields = {"email": _text(data.email), "phone": _text(data.phone)}
    elif isinstance(event, fb.ConsentWithdrawnEvent | fb.ConsentGrantedEvent):
        granted = isinstance(event, fb.ConsentGrantedEvent)
        consent[data.channel.value] = ConsentFact(granted, event.time, data.source)
    elif isinstance(event, fb.ComplaintReceivedEvent):
        consent[Channel.EMAIL.value] = ConsentFact(False, event.time, "complaint")
    elif isinstance(event, fb.EmailBouncedEvent):
        if data.kind is not fb.BounceKind.HARD:
            return None
        undeliverable[Channel.EMAIL.value] = f"hard bounce: {data.diagnostic or 'no detail'}"[:300]
    elif isinstance(event, fb.SmsDeliveryFailedEvent):
        if not data.permanent:
            return None
        undeliverable[Channel.SMS.value] = f"permanent failure {data.error_code or ''}".strip()
    else:
        return None
    return ContactFacts(event.shopid, event.customerid, fields, consent, undeliverable)


def _text(value: object) -> str | None:
    return None if value is None else str(value)


_UPSERT = text(
    """
INSERT INTO contacts (
    shop_id, customer_id, email, phone, first_name, last_name, locale, time_zone,
    email_consent, email_consent_at, email_consent_source, email_undeliverable,
    sms_consent, sms_consent_at, sms_consent_source, sms_undeliverable
) VALUES (
    :shop_id, :customer_id, :email, :phone, :first_name, :last_name, :locale, :time_zone,
    :email_consent, :email_consent_at, :email_consent_source, :email_undeliverable,
    :sms_consent, :sms_consent_at, :sms_consent_source, :sms_undeliverable
)
ON CONFLICT (shop_id, customer_id) DO UPDATE SET
    email_undeliverable = CASE
        WHEN EXCLUDED.email_undeliverable IS NOT NULL THEN EXCLUDED.email_undeliverable
        WHEN EXCLUDED.email IS NOT NULL AND EXCLUDED.email IS DISTINCT FROM contacts.email
            THEN NULL
        WHEN EXCLUDED.email_consent AND EXCLUDED.email_consent_at > contacts.email_consent_at
            AND contacts.email_undeliverable LIKE :opted_out_pattern THEN NULL
        ELSE contacts.email_undeliverable END,
    sms_undeliverable = CASE
        WHEN EXCLUDED.sms_undeliverable IS NOT NULL THEN EXCLUDED.sms_undeliverable
        WHEN EXCLUDED.phone IS NOT NULL AND EXCLUDED.phone IS DISTINCT FROM contacts.phone
            THEN NULL
        WHEN EXCLUDED.sms_consent AND EXCLUDED.sms_consent_at > contacts.sms_consent_at
            AND contacts.sms_undeliverable LIKE :opted_out_pattern THEN NULL
        ELSE contacts.sms_undeliverable END,
    email = COALESCE(EXCLUDED.email, contacts.email),
    phone = COALESCE(EXCLUDED.phone, contacts.phone),
    first_name = COALESCE(EXCLUDED.first_name, contacts.first_name),
    last_name = COALESCE(EXCLUDED.last_name, contacts.last_name),
    locale = COALESCE(EXCLUDED.locale, contacts.locale),
    time_zone = COALESCE(EXCLUDED.time_zone, contacts.time_zone),
    email_consent = CASE WHEN EXCLUDED.email_consent_at >= contacts.email_consent_at
        OR (contacts.email_consent_at IS NULL AND EXCLUDED.email_consent_at IS NOT NULL)
        THEN EXCLUDED.email_consent ELSE contacts.email_consent END,
    email_consent_source = CASE WHEN EXCLUDED.email_consent_at >= contacts.email_consent_at
        OR (contacts.email_consent_at IS NULL AND EXCLUDED.email_consent_at IS NOT NULL)
        THEN EXCLUDED.email_consent_source ELSE contacts.email_consent_source END,
    email_consent_at = GREATEST(EXCLUDED.email_consent_at, contacts.email_consent_at),
    sms_consent = CASE WHEN EXCLUDED.sms_consent_at >= contacts.sms_consent_at
        OR (contacts.sms_consent_at IS NULL AND EXCLUDED.sms_consent_at IS NOT NULL)
        THEN EXCLUDED.sms_consent ELSE contacts.sms_consent END,
    sms_consent_source = CASE WHEN EXCLUDED.sms_consent_at >= contacts.sms_consent_at
        OR (contacts.sms_consent_at IS NULL AND EXCLUDED.sms_consent_at IS NOT NULL)
        THEN EXCLUDED.sms_consent_source ELSE contacts.sms_consent_source END,
    sms_consent_at = GREATEST(EXCLUDED.sms_consent_at, contacts.sms_consent_at),
    updated_at = now()
"""
)


def _params(facts: ContactFacts) -> dict[str, Any]:
    params: dict[str, Any] = {
        "shop_id": facts.shop_id,
        "customer_id": facts.customer_id,
        "opted_out_pattern": f"%{OPTED_OUT}%",
    }
    for name in _FIELDS:
        params[name] = facts.fields.get(name)
    for channel in _CHANNELS:
        fact = facts.consent.get(channel)
        params[f"{channel}_consent"] = fact.granted if fact else None
        params[f"{channel}_consent_at"] = fact.at if fact else None
        params[f"{channel}_consent_source"] = fact.source if fact else None
        params[f"{channel}_undeliverable"] = facts.undeliverable.get(channel)
    return params


async def record(conn: AsyncConnection, facts: list[ContactFacts]) -> None:
    """Merge the facts, in order (a later event of the same batch wins where it should)."""
    for item in facts:
        await conn.execute(_UPSERT, _params(item))


_LOAD = text(
    """
SELECT shop_id, customer_id, email, phone, first_name, last_name, locale, time_zone,
       preferred_channel, email_consent, email_undeliverable, sms_consent, sms_undeliverable
FROM contacts
WHERE (shop_id, customer_id) IN (SELECT * FROM unnest(CAST(:shops AS text[]),
                                                       CAST(:customers AS text[])))
"""
)


async def load(conn: AsyncConnection, keys: set[tuple[str, str]]) -> dict[tuple[str, str], Contact]:
    if not keys:
        return {}
    shops, customers = zip(*sorted(keys), strict=True)
    rows = await conn.execute(_LOAD, {"shops": list(shops), "customers": list(customers)})
    found: dict[tuple[str, str], Contact] = {}
    for row in rows.mappings():
        preferred = row["preferred_channel"]
        found[(row["shop_id"], row["customer_id"])] = Contact(
            email=ChannelState(row["email"], row["email_consent"], row["email_undeliverable"]),
            sms=ChannelState(row["phone"], row["sms_consent"], row["sms_undeliverable"]),
            preferred_channel=Channel(preferred) if preferred else None,
            time_zone=row["time_zone"],
            locale=row["locale"],
            first_name=row["first_name"],
            last_name=row["last_name"],
        )
    return found
