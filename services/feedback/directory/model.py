"""The directory's port and the facts it holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.events.feedback import SurveyKind
from shared.events.shop import Channel


@dataclass(frozen=True, slots=True)
class ContactRef:
    """One customer of one shop: a customer id means nothing without its shop."""

    shop_id: str
    customer_id: str


@dataclass(frozen=True, slots=True)
class ConsentFact:
    granted: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class ContactFacts:
    """What one event says about a contact; None wherever it says nothing.

    Merged, never overwritten blindly: an address only when the event names one, consent on
    a channel only when the statement is at least as recent as the one held.
    """

    ref: ContactRef
    email: str | None = None
    phone: str | None = None
    email_consent: ConsentFact | None = None
    sms_consent: ConsentFact | None = None
    locale: str | None = None
    """The customer's language (`nl-NL`) as the shop last gave it; None: kept as held."""
    categories: tuple[tuple[str, ConsentFact], ...] = ()
    """Campaign categories kept (granted) or dropped, each merged by time like consent."""


@dataclass(frozen=True, slots=True)
class Contact:
    ref: ContactRef
    email: str | None
    phone: str | None
    email_consent: bool | None
    """Marketing consent by email as last stated (None: never stated)."""
    sms_consent: bool | None
    email_consent_at: datetime | None = None
    """When the consent held was stated: what a new statement must not be older than, and
    the version a consent change acts on (its event id derives from it)."""
    sms_consent_at: datetime | None = None
    locale: str | None = None
    """The customer's language as the shop last gave it (None: never given)."""


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message dispatch reported sent: what inbound feedback may be about."""

    message_id: str
    ref: ContactRef
    channel: Channel
    trigger_id: str
    campaign_id: str
    transactional: bool
    provider_id: str | None
    """The SMS provider's message id (Twilio's MessageSid), or the SMTP server's answer."""
    sent_at: datetime
    survey: SurveyKind | None = None
    """The survey the message asked for (its trigger's `survey`), None when it asked none or
    its trigger is not known here yet. Read from the survey asks (`SurveyAsk`): what a
    message is recorded with here is not kept."""
    order_id: str | None = None
    """The order that survey is about (review requests are per delivered order)."""


@dataclass(frozen=True, slots=True)
class SurveyAsk:
    """A campaign step that asked for a survey (`trigger.fired` with `survey`), by trigger id:
    the messages sent for that trigger asked for it. Kept apart from the messages because the
    two arrive on different topics, in either order."""

    trigger_id: str
    ref: ContactRef
    survey: SurveyKind
    order_id: str | None
    asked_at: datetime


class Directory(Protocol):
    async def record(
        self,
        contacts: Sequence[ContactFacts],
        messages: Sequence[SentMessage],
        asks: Sequence[SurveyAsk] = (),
    ) -> None:
        """Merge the facts in order (a later fact about a contact wins where it should);
        a message or a survey ask recorded again changes nothing."""
        ...

    async def contact(self, ref: ContactRef) -> Contact | None: ...

    async def dropped_categories(self, ref: ContactRef) -> frozenset[str]:
        """The campaign categories this customer dropped (their newest choice for each)."""
        ...

    async def contacts_by_phone(self, phone: str) -> list[Contact]:
        """Every contact, of any shop, with this E.164 number (callers keep shops apart)."""
        ...

    async def texted(self, phone: str) -> list[tuple[Contact, SentMessage | None]]:
        """Every contact with this E.164 number, each with the last SMS sent to it (None when
        none was): what an inbound text needs, in one lookup."""
        ...

    async def contacts_by_email(self, email: str) -> list[Contact]:
        """Every contact, of any shop, with this address (compared case-insensitively)."""
        ...

    async def message(self, message_id: str) -> SentMessage | None: ...

    async def message_by_provider_id(self, provider_id: str) -> SentMessage | None: ...

    async def last_message(
        self, refs: Sequence[ContactRef], channel: Channel
    ) -> SentMessage | None:
        """The most recent message sent on `channel` to any of `refs`."""
        ...
