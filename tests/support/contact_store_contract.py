"""The contact store's behaviour, written once: the in-memory store runs it in the unit tests,
PostgreSQL's in the integration tests, each with a one-line factory. What each fact does to a
stored contact is contacts.py's rules; this suite holds both adapters to them."""

from __future__ import annotations

import uuid
from abc import ABC, abstractmethod
from datetime import timedelta

from services.dispatch.contacts import (
    ALL,
    MARKETING,
    OPTED_OUT,
    AddressFact,
    ConsentFact,
    ContactFacts,
)
from services.dispatch.policy import Contact
from services.dispatch.ports import Store
from services.dispatch.profiles import ProfileFacts
from shared.events.shop import Channel
from tests.support.dispatch_factories import NOON, contact

DAY = timedelta(days=1)


def unique(prefix: str) -> str:
    """Ids unique per test: the PostgreSQL adapter shares its tables between tests."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def said(shop: str, customer: str, **parts: object) -> ContactFacts:
    """An event that says only `parts` (fields, consent, undeliverable, addresses...)."""
    return ContactFacts(
        shop,
        customer,
        parts.pop("fields", {}),  # type: ignore[arg-type]
        parts.pop("consent", {}),  # type: ignore[arg-type]
        parts.pop("undeliverable", {}),  # type: ignore[arg-type]
        parts.pop("addresses", ()),  # type: ignore[arg-type]
        parts.pop("categories", {}),  # type: ignore[arg-type]
    )


class ContactStoreContract(ABC):
    @abstractmethod
    def store(self) -> Store: ...

    async def record(self, store: Store, *facts: ContactFacts) -> None:
        async with store.transaction() as tx:
            await tx.contacts.record(list(facts))

    async def load(self, store: Store, shop: str, customer: str = "c1") -> Contact | None:
        async with store.transaction() as tx:
            return (await tx.contacts.load({(shop, customer)})).get((shop, customer))

    async def test_facts_merge_field_by_field(self) -> None:
        store, shop = self.store(), unique("s")
        await self.record(store, contact(shop, "c1", time_zone="Europe/Amsterdam"))
        await self.record(store, said(shop, "c1", fields={"email": "ada@new.example"}))
        found = await self.load(store, shop)
        assert found is not None
        assert (found.email.address, found.sms.address) == ("ada@new.example", "+31612345678")
        assert (found.first_name, found.time_zone) == ("Ada", "Europe/Amsterdam")
        assert (found.email.consent, found.sms.consent) == (True, True)
        assert await self.load(store, shop, "c2") is None
        async with store.transaction() as tx:
            assert await tx.contacts.load(set()) == {}

    async def test_a_stale_consent_statement_does_not_undo_a_newer_one(self) -> None:
        store, shop = self.store(), unique("s")
        stop = ConsentFact(False, NOON, "sms_stop", withdrawn=True)
        await self.record(store, said(shop, "c1", consent={"sms": stop}))
        stale_sync = contact(shop, "c1", at=NOON - DAY)  # grants both, as of yesterday
        await self.record(store, stale_sync)
        found = await self.load(store, shop)
        assert found is not None
        assert (found.sms.consent, found.sms.withdrawn) == (False, True)
        assert found.email.consent is True
        later = ConsentFact(True, NOON + DAY, "preference_centre")
        await self.record(store, said(shop, "c1", consent={"sms": later}))
        found = await self.load(store, shop)
        assert found is not None and (found.sms.consent, found.sms.withdrawn) == (True, False)

    async def test_denied_consent_is_not_withdrawn(self) -> None:
        store, shop = self.store(), unique("s")
        await self.record(store, contact(shop, "c1", sms_consent=False))
        found = await self.load(store, shop)
        assert found is not None and (found.sms.consent, found.sms.withdrawn) == (False, False)

    async def test_an_unusable_number_stays_so_until_the_customer_gives_another(self) -> None:
        store, shop = self.store(), unique("s")
        await self.record(store, contact(shop, "c1"))
        await self.record(store, said(shop, "c1", undeliverable={"sms": "permanent failure 30006"}))
        newer_grant = ConsentFact(True, NOON + DAY, "preference_centre")
        await self.record(store, said(shop, "c1", consent={"sms": newer_grant}))
        found = await self.load(store, shop)
        assert found is not None and found.sms.undeliverable == "permanent failure 30006"
        await self.record(store, said(shop, "c1", fields={"phone": "+31687654321"}))
        found = await self.load(store, shop)
        assert found is not None and found.sms.undeliverable is None

    async def test_a_provider_opt_out_lifts_with_a_newer_consent(self) -> None:
        store, shop = self.store(), unique("s")
        await self.record(store, contact(shop, "c1"))
        async with store.transaction() as tx:
            reason = f"sms {OPTED_OUT}: 21610"
            await tx.contacts.refused((shop, "c1"), Channel.SMS, reason, NOON)
        found = await self.load(store, shop)
        assert found is not None
        assert found.sms.undeliverable == f"sms {OPTED_OUT}: 21610"
        assert (found.sms.consent, found.sms.withdrawn) == (False, True)
        older = ConsentFact(True, NOON - DAY, "shop_sync")
        await self.record(store, said(shop, "c1", consent={"sms": older}))
        found = await self.load(store, shop)
        assert found is not None and found.sms.undeliverable is not None
        newer = ConsentFact(True, NOON + DAY, "sms_start")
        await self.record(store, said(shop, "c1", consent={"sms": newer}))
        found = await self.load(store, shop)
        assert found is not None
        assert (found.sms.undeliverable, found.sms.consent) == (None, True)

    async def test_a_refusal_not_about_consent_marks_the_address_only(self) -> None:
        store, shop = self.store(), unique("s")
        await self.record(store, contact(shop, "c1"))
        async with store.transaction() as tx:
            await tx.contacts.refused((shop, "c1"), Channel.EMAIL, "email rejected: 550", NOON)
            await tx.contacts.refused((shop, "nobody"), Channel.EMAIL, "email rejected", NOON)
        found = await self.load(store, shop)
        assert found is not None
        assert (found.email.undeliverable, found.email.consent) == ("email rejected: 550", True)
        assert await self.load(store, shop, "nobody") is None

    async def test_suppressions_follow_the_address_until_cleared(self) -> None:
        store, shop = self.store(), unique("s")
        await self.record(store, contact(shop, "c1", email="Ada@Example.com"))
        await self.record(store, contact(shop, "c2", email="ada@example.com"))
        bounce = AddressFact("ada@example.com", NOON, ALL, "hard bounce: 5.1.1")
        complaint = AddressFact("ada@example.com", NOON, MARKETING, "complaint")
        await self.record(store, said(shop, "c1", addresses=(bounce, complaint)))
        for customer in ("c1", "c2"):
            found = await self.load(store, shop, customer)
            assert found is not None
            assert found.email.undeliverable == "hard bounce: 5.1.1"
            assert found.email.marketing_suppressed == "complaint"
        other_shop = unique("s")
        await self.record(store, contact(other_shop, "c1"))
        found = await self.load(store, other_shop)
        assert found is not None and found.email.undeliverable is None

        async with store.transaction() as tx:
            await tx.contacts.refused((shop, "c2"), Channel.EMAIL, "email rejected", NOON)
        cleared = AddressFact("ada@example.com", NOON + DAY)
        await self.record(store, said(shop, "c1", addresses=(cleared,)))
        for customer in ("c1", "c2"):
            found = await self.load(store, shop, customer)
            assert found is not None
            assert (found.email.undeliverable, found.email.marketing_suppressed) == (None, None)

        again = AddressFact("ada@example.com", NOON, ALL, "hard bounce delivered again")
        await self.record(store, said(shop, "c1", addresses=(again,)))
        found = await self.load(store, shop)
        assert found is not None and found.email.undeliverable is None
        newer = AddressFact("ada@example.com", NOON + 2 * DAY, ALL, "hard bounce: new")
        await self.record(store, said(shop, "c1", addresses=(newer,)))
        found = await self.load(store, shop)
        assert found is not None and found.email.undeliverable == "hard bounce: new"

    async def test_the_newest_category_choice_wins(self) -> None:
        store, shop = self.store(), unique("s")
        await self.record(store, contact(shop, "c1"))
        dropped = ConsentFact(False, NOON, "preference_page")
        kept = ConsentFact(True, NOON - DAY, "preference_page")
        await self.record(
            store, said(shop, "c1", categories={"win_back": dropped, "reviews": dropped})
        )
        await self.record(store, said(shop, "c1", categories={"win_back": kept}))
        found = await self.load(store, shop)
        assert found is not None and found.dropped_categories == {"win_back", "reviews"}
        back = ConsentFact(True, NOON + DAY, "preference_page")
        await self.record(store, said(shop, "c1", categories={"reviews": back}))
        found = await self.load(store, shop)
        assert found is not None and found.dropped_categories == {"win_back"}

    async def test_the_latest_profile_counts_and_never_makes_a_contact_known(self) -> None:
        store, shop = self.store(), unique("s")

        def profile(at_days: float, channel: Channel | None, score: int | None) -> ProfileFacts:
            return ProfileFacts(shop, "c1", NOON + DAY * at_days, unique("p"), channel, score)

        async with store.transaction() as tx:
            await tx.contacts.record_profiles([profile(0, Channel.SMS, 4)])
        assert await self.load(store, shop) is None
        await self.record(store, contact(shop, "c1"))
        found = await self.load(store, shop)
        assert found is not None
        assert (found.preferred_channel, found.monetary_score) == (Channel.SMS, 4)
        async with store.transaction() as tx:
            await tx.contacts.record_profiles([profile(-1, Channel.EMAIL, 1)])
        found = await self.load(store, shop)
        assert found is not None and found.monetary_score == 4
        async with store.transaction() as tx:
            await tx.contacts.record_profiles([profile(1, Channel.EMAIL, 2), profile(0.5, None, 5)])
        found = await self.load(store, shop)
        assert found is not None
        assert (found.preferred_channel, found.monetary_score) == (Channel.EMAIL, 2)
        async with store.transaction() as tx:
            await tx.contacts.record_profiles([ProfileFacts(shop, "c1", None)])
        found = await self.load(store, shop)
        assert found is not None
        assert (found.preferred_channel, found.monetary_score) == (None, None)
