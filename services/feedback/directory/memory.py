"""The directory in memory: for unit tests and for trying the service without a database."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from services.feedback.directory.model import (
    ConsentFact,
    Contact,
    ContactFacts,
    ContactRef,
    SentMessage,
    SurveyAsk,
)
from shared.events.shop import Channel


class MemoryDirectory:
    def __init__(self) -> None:
        self._contacts: dict[ContactRef, Contact] = {}
        self._consent_at: dict[tuple[ContactRef, Channel], ConsentFact] = {}
        self._messages: dict[str, SentMessage] = {}
        self._categories: dict[tuple[ContactRef, str], ConsentFact] = {}
        self._asks: dict[str, SurveyAsk] = {}

    async def record(
        self,
        contacts: Sequence[ContactFacts],
        messages: Sequence[SentMessage],
        asks: Sequence[SurveyAsk] = (),
    ) -> None:
        for facts in contacts:
            self._merge(facts)
        for message in messages:
            unasked = dataclasses.replace(message, survey=None, order_id=None)
            self._messages.setdefault(message.message_id, unasked)
        for ask in asks:
            self._asks.setdefault(ask.trigger_id, ask)

    def _asked(self, message: SentMessage | None) -> SentMessage | None:
        """The message with the survey its trigger asked for, if any."""
        ask = self._asks.get(message.trigger_id) if message is not None else None
        if message is None or ask is None or ask.ref != message.ref:
            return message
        return dataclasses.replace(message, survey=ask.survey, order_id=ask.order_id)

    def _merge(self, facts: ContactFacts) -> None:
        for category, fact in facts.categories:
            known = self._categories.get((facts.ref, category))
            if known is None or fact.at >= known.at:
                self._categories[facts.ref, category] = fact
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
            locale=facts.locale or held.locale,
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

    async def dropped_categories(self, ref: ContactRef) -> frozenset[str]:
        return frozenset(c for (r, c), f in self._categories.items() if r == ref and not f.granted)

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
        return self._asked(self._messages.get(message_id))

    async def message_by_provider_id(self, provider_id: str) -> SentMessage | None:
        found = [m for m in self._messages.values() if m.provider_id == provider_id]
        return self._asked(max(found, key=lambda m: m.sent_at, default=None))

    async def last_message(
        self, refs: Sequence[ContactRef], channel: Channel
    ) -> SentMessage | None:
        wanted = set(refs)
        found = [m for m in self._messages.values() if m.ref in wanted and m.channel is channel]
        return self._asked(max(found, key=lambda m: (m.sent_at, m.message_id), default=None))


def _at(fact: ConsentFact | None) -> datetime | None:
    return None if fact is None else fact.at


def _by_ref(contact: Contact) -> tuple[str, str]:
    return contact.ref.shop_id, contact.ref.customer_id
