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
    SurveyAsk,
)
from shared.events.feedback import SurveyKind
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

    async def test_the_newest_choice_of_each_category_is_held(self) -> None:
        directory = self.directory()
        ref = ContactRef(unique("shop"), "c1")
        other = ContactRef(ref.shop_id, "c2")
        t0 = datetime(2026, 12, 1, tzinfo=UTC)
        assert await directory.dropped_categories(ref) == frozenset()
        dropped, kept = ConsentFact(False, t0), ConsentFact(True, t0 - timedelta(hours=1))
        await directory.record(
            [ContactFacts(ref, categories=(("offers", dropped), ("tips", dropped)))], []
        )
        await directory.record([ContactFacts(ref, categories=(("offers", kept),))], [])  # older
        assert await directory.dropped_categories(ref) == {"offers", "tips"}
        later = ConsentFact(True, t0 + timedelta(minutes=1))
        await directory.record([ContactFacts(ref, categories=(("tips", later),))], [])
        assert await directory.dropped_categories(ref) == {"offers"}
        assert await directory.dropped_categories(other) == frozenset()

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

    async def test_the_locale_is_kept_until_the_shop_gives_another(self) -> None:
        directory = self.directory()
        ref = ContactRef(unique("shop"), "c1")
        await directory.record([ContactFacts(ref, locale="nl-NL")], [])
        await directory.record([ContactFacts(ref, email="ada@example.com")], [])
        contact = await directory.contact(ref)
        assert contact is not None and contact.locale == "nl-NL"
        await directory.record([ContactFacts(ref, locale="en-GB")], [])
        contact = await directory.contact(ref)
        assert contact is not None and contact.locale == "en-GB"

    async def test_a_message_knows_the_survey_its_trigger_asked_for_in_either_order(self) -> None:
        directory = self.directory()
        phone = f"+3161{uuid.uuid4().int % 10**7:07d}"
        ref = ContactRef(unique("shop"), "c1")
        await directory.record([ContactFacts(ref, phone=phone)], [])
        first = sent(ref, provider_id=unique("SM"))
        asked_later = sent(ref, at=T0 + timedelta(minutes=1), provider_id=unique("SM"))
        ask = SurveyAsk(first.trigger_id, ref, SurveyKind.CSAT, "o-1", T0)
        await directory.record([], [first], [ask])  # the ask and its message together
        await directory.record([], [asked_later])  # the message first, its ask after
        assert (await directory.message(asked_later.message_id)) == asked_later
        later_ask = SurveyAsk(asked_later.trigger_id, ref, SurveyKind.NPS, None, T0)
        await directory.record([], [], [later_ask])
        with_csat = dataclasses.replace(first, survey=SurveyKind.CSAT, order_id="o-1")
        with_nps = dataclasses.replace(asked_later, survey=SurveyKind.NPS)
        assert await directory.message(first.message_id) == with_csat
        assert await directory.message_by_provider_id(first.provider_id or "") == with_csat
        assert await directory.last_message([ref], Channel.SMS) == with_nps
        assert await directory.texted(phone) == [((await directory.contact(ref)), with_nps)]

    async def test_a_survey_ask_recorded_again_changes_nothing(self) -> None:
        directory = self.directory()
        ref = ContactRef(unique("shop"), "c1")
        message = sent(ref)
        ask = SurveyAsk(message.trigger_id, ref, SurveyKind.CSAT, "o-1", T0)
        await directory.record([], [message], [ask])
        await directory.record([], [], [dataclasses.replace(ask, order_id="o-2")])
        found = await directory.message(message.message_id)
        assert found is not None and found.order_id == "o-1"

    async def test_a_message_takes_no_ask_of_another_customer(self) -> None:
        directory = self.directory()
        ref, other = ContactRef(unique("shop"), "c1"), ContactRef(unique("shop"), "c2")
        message = sent(ref)
        foreign = SurveyAsk(message.trigger_id, other, SurveyKind.NPS, "o-9", T0)
        await directory.record([], [message], [foreign])
        found = await directory.message(message.message_id)
        assert found is not None and (found.survey, found.order_id) == (None, None)

    async def test_what_a_message_is_recorded_with_about_surveys_is_not_kept(self) -> None:
        directory = self.directory()
        ref = ContactRef(unique("shop"), "c1")
        claimed = dataclasses.replace(sent(ref), survey=SurveyKind.NPS, order_id="o-3")
        await directory.record([], [claimed])
        found = await directory.message(claimed.message_id)
        assert found is not None and (found.survey, found.order_id) == (None, None)
