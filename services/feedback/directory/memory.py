"""The directory in memory: for unit tests and for trying the service without a database."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from services.feedback.directory.model import (
    ConsentFact,
    Contact,
    ContactFacts,
    ContactRef,
    SentMessage,
)
from shared.events.shop import Channel


class MemoryDirectory:
    def __init__(self) -> None:
        self._contacts: dict[ContactRef, Contact] = {}
        self._consent_at: dict[tuple[ContactRef, Channel], ConsentFact] = {}
        self._messages: dict[str, SentMessage] = {}

    async def record(
        self, contacts: Sequence[ContactFacts], messages: Sequence[SentMessage]
    ) -> None:
        for facts in contacts:
            self._merge(facts)
        for message in messages:
            self._messages.setdefault(message.message_id, message)

    def _merge(self, facts: ContactFacts) -> None:
        held = self._contacts.get(facts.ref) or Contact(facts.ref, None, None, None, None)
        email_consent = self._consent(facts.ref, Channel.EMAIL, facts.email_consent)
        sms_consent = self._consent(facts.ref, Channel.SMS, facts.sms_consent)
        self._contacts[facts.ref] = Contact(
            ref=facts.ref,
            email=facts.email or held.email,
            phone=facts.phone or held.phone,
            email_consent=held.email_consent if email_consent is None else email_consent,
            sms_consent=held.sms_consent if sms_consent is None else sms_consent,
            email_consent_at=_at(self._consent_at.get((facts.ref, Channel.EMAIL))),
            sms_consent_at=_at(self._consent_at.get((facts.ref, Channel.SMS))),
        )

    def _consent(self, ref: ContactRef, channel: Channel, fact: ConsentFact | None) -> bool | None:
        """The consent to hold after `fact`, or None to keep what is held."""
        if fact is None:
            return None
        held = self._consent_at.get((ref, channel))
        if held is not None and fact.at < held.at:
            return None
        self._consent_at[ref, channel] = fact
        return fact.granted

    async def contact(self, ref: ContactRef) -> Contact | None:
        return self._contacts.get(ref)

    async def contacts_by_phone(self, phone: str) -> list[Contact]:
        return sorted((c for c in self._contacts.values() if c.phone == phone), key=_by_ref)

    async def texted(self, phone: str) -> list[tuple[Contact, SentMessage | None]]:
        return [
            (contact, await self.last_message([contact.ref], Channel.SMS))
            for contact in await self.contacts_by_phone(phone)
        ]

    async def contacts_by_email(self, email: str) -> list[Contact]:
        wanted = email.lower()
        return sorted(
            (c for c in self._contacts.values() if c.email and c.email.lower() == wanted),
            key=_by_ref,
        )

    async def message(self, message_id: str) -> SentMessage | None:
        return self._messages.get(message_id)

    async def message_by_provider_id(self, provider_id: str) -> SentMessage | None:
        found = [m for m in self._messages.values() if m.provider_id == provider_id]
        return max(found, key=lambda m: m.sent_at, default=None)

    async def last_message(
        self, refs: Sequence[ContactRef], channel: Channel
    ) -> SentMessage | None:
        wanted = set(refs)
        found = [m for m in self._messages.values() if m.ref in wanted and m.channel is channel]
        return max(found, key=lambda m: (m.sent_at, m.message_id), default=None)


def _at(fact: ConsentFact | None) -> datetime | None:
    return None if fact is None else fact.at


def _by_ref(contact: Contact) -> tuple[str, str]:
    return contact.ref.shop_id, contact.ref.customer_id
