"""The feedback directory's behaviour, written once: every adapter subclasses this suite with a
one-line factory (the in-memory one in the unit tests, PostgreSQL's in the integration tests),
as eventsourcing's recorder tests do."""

from __future__ import annotations

import dataclasses
import uuid
from abc import ABC, abstractmethod
from datetime import UTC, datetime, timedelta

from services.feedback.directory import (
    ConsentFact,
    ContactFacts,
    ContactRef,
    Directory,
    SentMessage,
)
from shared.events.shop import Channel

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def unique(prefix: str) -> str:
    """Ids unique per test: the PostgreSQL adapter shares its tables between tests."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def sent(
    ref: ContactRef,
    channel: Channel = Channel.SMS,
    *,
    at: datetime = T0,
    provider_id: str | None = None,
    message_id: str | None = None,
) -> SentMessage:
    return SentMessage(
        message_id=message_id or unique("m"),
        ref=ref,
        channel=channel,
        trigger_id=unique("t"),
        campaign_id="abandoned_cart",
        transactional=False,
        provider_id=provider_id,
        sent_at=at,
    )


class DirectoryContract(ABC):
    @abstractmethod
    def directory(self) -> Directory:
        """A fresh adapter (tables may hold other tests' rows: ids here are unique)."""

    async def test_an_unknown_contact_or_message_is_none(self) -> None:
        directory = self.directory()
        assert await directory.contact(ContactRef(unique("shop"), "c1")) is None
        assert await directory.message(unique("m")) is None
        assert await directory.message_by_provider_id(unique("SM")) is None
        assert await directory.last_message([], Channel.SMS) is None

    async def test_addresses_merge_and_a_missing_one_keeps_what_is_held(self) -> None:
        directory = self.directory()
        ref = ContactRef(unique("shop"), "c1")
        await directory.record([ContactFacts(ref, email="ada@example.com")], [])
        await directory.record([ContactFacts(ref, phone="+31612345678")], [])
        contact = await directory.contact(ref)
        assert contact is not None
        assert (contact.email, contact.phone) == ("ada@example.com", "+31612345678")
        await directory.record([ContactFacts(ref, email="new@example.com")], [])
        contact = await directory.contact(ref)
        assert contact is not None and contact.email == "new@example.com"

    async def test_consent_follows_the_latest_statement_not_the_latest_record(self) -> None:
        directory = self.directory()
        ref = ContactRef(unique("shop"), "c1")
        stop = ContactFacts(ref, sms_consent=ConsentFact(False, T0 + timedelta(hours=1)))
        stale_sync = ContactFacts(ref, sms_consent=ConsentFact(True, T0))
        await directory.record([stop], [])
        await directory.record([stale_sync], [])  # an older shop sync cannot undo a STOP
        contact = await directory.contact(ref)
        assert contact is not None and contact.sms_consent is False
        assert contact.sms_consent_at == T0 + timedelta(hours=1)  # the statement held, kept
        assert contact.email_consent is None and contact.email_consent_at is None
        later = ContactFacts(ref, sms_consent=ConsentFact(True, T0 + timedelta(hours=2)))
        await directory.record([later], [])
        contact = await directory.contact(ref)
        assert contact is not None and contact.sms_consent is True

    async def test_facts_of_one_call_apply_in_order(self) -> None:
        directory = self.directory()
        ref = ContactRef(unique("shop"), "c1")
        await directory.record(
            [
                ContactFacts(ref, email="first@example.com"),
                ContactFacts(ref, email="second@example.com"),
            ],
            [],
        )
        contact = await directory.contact(ref)
        assert contact is not None and contact.email == "second@example.com"

    async def test_contacts_by_phone_and_email_span_shops_and_keep_them_apart(self) -> None:
        directory = self.directory()
        phone, email = f"+3161{uuid.uuid4().int % 10**7:07d}", f"{unique('x')}@Example.com"
        a, b = ContactRef(unique("shop-a"), "c1"), ContactRef(unique("shop-b"), "c9")
        await directory.record(
            [ContactFacts(a, phone=phone, email=email), ContactFacts(b, phone=phone)], []
        )
        by_phone = await directory.contacts_by_phone(phone)
        assert [c.ref for c in by_phone] == sorted([a, b], key=lambda r: r.shop_id)
        by_email = await directory.contacts_by_email(email.lower())
        assert [c.ref for c in by_email] == [a]

    async def test_a_message_recorded_again_changes_nothing(self) -> None:
        directory = self.directory()
        ref = ContactRef(unique("shop"), "c1")
        first = sent(ref, provider_id=unique("SM"))
        await directory.record([], [first])
        await directory.record([], [dataclasses.replace(first, sent_at=T0 + timedelta(days=1))])
        assert await directory.message(first.message_id) == first
        assert await directory.message_by_provider_id(first.provider_id or "") == first

    async def test_the_last_message_is_per_channel_among_the_given_contacts(self) -> None:
        directory = self.directory()
        a, b = ContactRef(unique("shop-a"), "c1"), ContactRef(unique("shop-b"), "c1")
        old_sms = sent(a, at=T0)
        new_sms = sent(b, at=T0 + timedelta(minutes=5))
        newest_email = sent(a, Channel.EMAIL, at=T0 + timedelta(minutes=9))
        await directory.record([], [old_sms, new_sms, newest_email])
        assert await directory.last_message([a, b], Channel.SMS) == new_sms
        assert await directory.last_message([a], Channel.SMS) == old_sms
        assert await directory.last_message([a, b], Channel.EMAIL) == newest_email

    async def test_texted_gives_each_contact_of_a_phone_its_last_sms(self) -> None:
        directory = self.directory()
        phone = f"+3161{uuid.uuid4().int % 10**7:07d}"
        a, b = ContactRef(unique("shop-a"), "c1"), ContactRef(unique("shop-b"), "c2")
        await directory.record([ContactFacts(a, phone=phone), ContactFacts(b, phone=phone)], [])
        older, newer = sent(a, at=T0), sent(a, at=T0 + timedelta(minutes=3))
        email = sent(a, Channel.EMAIL, at=T0 + timedelta(minutes=9))
        await directory.record([], [older, newer, email])
        texted = await directory.texted(phone)
        assert [(contact.ref, last) for contact, last in texted] == sorted(
            [(a, newer), (b, None)], key=lambda pair: pair[0].shop_id
        )
        assert await directory.texted(f"+3161{uuid.uuid4().int % 10**7:07d}") == []
