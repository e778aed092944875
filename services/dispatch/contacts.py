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
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
        fields = {name: _text(getattr(customer, name)) for name in _FIELDS}
        for channel in _CHANNELS:
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
        params[f"{channel}_consent_source"] = fact.stored_source if fact else None
        params[f"{channel}_undeliverable"] = facts.undeliverable.get(channel)
    return params


_SUPPRESS = text(
    """
INSERT INTO dispatch_suppressions (shop_id, address, scope, reason, suppressed_at)
VALUES (:shop_id, :address, :scope, :reason, :at)
ON CONFLICT (shop_id, address, scope) DO UPDATE SET
    reason = CASE WHEN dispatch_suppressions.suppressed_at IS NULL
        OR EXCLUDED.suppressed_at >= dispatch_suppressions.suppressed_at
        THEN EXCLUDED.reason ELSE dispatch_suppressions.reason END,
    suppressed_at = GREATEST(EXCLUDED.suppressed_at, dispatch_suppressions.suppressed_at),
    updated_at = now()
"""
)
_CLEAR = text(
    """
INSERT INTO dispatch_suppressions (shop_id, address, scope, cleared_at)
SELECT :shop_id, :address, scope, :at FROM unnest(CAST(:scopes AS text[])) AS scope
ON CONFLICT (shop_id, address, scope) DO UPDATE SET
    cleared_at = GREATEST(EXCLUDED.cleared_at, dispatch_suppressions.cleared_at),
    updated_at = now()
"""
)
_CLEAR_MARKS = text(
    """
UPDATE contacts SET email_undeliverable = NULL, updated_at = now()
WHERE shop_id = :shop_id AND lower(email) = :address AND email_undeliverable IS NOT NULL
"""
)


async def record(conn: AsyncConnection, facts: list[ContactFacts]) -> None:
    """Merge the facts, in order (a later event of the same batch wins where it should)."""
    for item in facts:
        await conn.execute(_UPSERT, _params(item))
        for fact in item.addresses:
            keys = {"shop_id": item.shop_id, "address": fact.address, "at": fact.at}
            if fact.scope is not None:
                await conn.execute(_SUPPRESS, {**keys, "scope": fact.scope, "reason": fact.reason})
            else:
                await conn.execute(_CLEAR, {**keys, "scopes": [ALL, MARKETING]})
                await conn.execute(_CLEAR_MARKS, keys)
        for category, stated in item.categories.items():
            await conn.execute(
                _CATEGORY,
                {
                    "shop_id": item.shop_id,
                    "customer_id": item.customer_id,
                    "category": category,
                    "subscribed": stated.granted,
                    "at": stated.at,
                },
            )


_CATEGORY = text(
    """
INSERT INTO dispatch_category_preferences (shop_id, customer_id, category, subscribed, stated_at)
VALUES (:shop_id, :customer_id, :category, :subscribed, :at)
ON CONFLICT (shop_id, customer_id, category) DO UPDATE SET
    subscribed = CASE WHEN EXCLUDED.stated_at >= dispatch_category_preferences.stated_at
        THEN EXCLUDED.subscribed ELSE dispatch_category_preferences.subscribed END,
    stated_at = GREATEST(EXCLUDED.stated_at, dispatch_category_preferences.stated_at)
"""
)

_LOAD = text(
    """
SELECT c.shop_id, c.customer_id, c.email, c.phone, c.first_name, c.last_name, c.locale,
       c.time_zone, dp.preferred_channel, dp.monetary_score, c.email_consent,
       c.email_undeliverable, c.sms_consent, c.sms_undeliverable, s.suppressed_all,
       s.suppressed_marketing, c.email_consent_source, c.sms_consent_source,
       ARRAY(SELECT p.category FROM dispatch_category_preferences p
             WHERE p.shop_id = c.shop_id AND p.customer_id = c.customer_id
               AND NOT p.subscribed) AS dropped_categories
FROM contacts c
LEFT JOIN dispatch_profiles dp ON dp.shop_id = c.shop_id AND dp.customer_id = c.customer_id
LEFT JOIN LATERAL (
    SELECT max(d.reason) FILTER (WHERE d.scope = 'all') AS suppressed_all,
           max(d.reason) FILTER (WHERE d.scope = 'marketing') AS suppressed_marketing
    FROM dispatch_suppressions d
    WHERE d.shop_id = c.shop_id AND d.address = lower(c.email)
      AND d.suppressed_at IS NOT NULL
      AND (d.cleared_at IS NULL OR d.suppressed_at > d.cleared_at)
) s ON true
WHERE (c.shop_id, c.customer_id) IN (SELECT * FROM unnest(CAST(:shops AS text[]),
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
            email=ChannelState(
                row["email"],
                row["email_consent"],
                withdrawn=_withdrawn(row, "email"),
                undeliverable=row["email_undeliverable"] or row["suppressed_all"],
                marketing_suppressed=row["suppressed_marketing"],
            ),
            sms=ChannelState(
                row["phone"],
                row["sms_consent"],
                row["sms_undeliverable"],
                withdrawn=_withdrawn(row, "sms"),
            ),
            preferred_channel=Channel(preferred) if preferred else None,
            monetary_score=row["monetary_score"],
            time_zone=row["time_zone"],
            locale=row["locale"],
            first_name=row["first_name"],
            last_name=row["last_name"],
            dropped_categories=frozenset(row["dropped_categories"]),
        )
    return found


def _withdrawn(row: Any, channel: str) -> bool:
    """Whether the channel's consent is False because the customer withdrew it."""
    source = row[f"{channel}_consent_source"] or ""
    return row[f"{channel}_consent"] is False and source.startswith(WITHDRAWN)
