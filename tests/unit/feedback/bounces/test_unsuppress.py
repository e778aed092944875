"""`nudge contacts unsuppress`'s logic: publish per customer of the one shop, then audit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from services.feedback.bounces.store import MemorySuppressionStore
from services.feedback.bounces.unsuppress import CannotUnsuppress, Request, unsuppress
from services.feedback.directory import ContactFacts, ContactRef
from services.feedback.directory.memory import MemoryDirectory
from shared.events import EventEnvelope
from shared.events import feedback as fb
from shared.publisher import BrokerUnavailable
from tests.support.suppression_contract import T0, held

NOW = T0 + timedelta(days=1)


class Published(list[EventEnvelope]):
    failure: Exception | None = None

    async def __call__(self, events: Sequence[EventEnvelope]) -> None:
        if self.failure is not None:
            raise self.failure
        self.extend(events)


async def _directory() -> MemoryDirectory:
    directory = MemoryDirectory()
    await directory.record(
        [
            ContactFacts(ContactRef("acme", "ada"), email="ada@example.com"),
            ContactFacts(ContactRef("acme", "ada-2"), email="ADA@example.com"),
            ContactFacts(ContactRef("bolt", "ada"), email="ada@example.com"),
        ],
        [],
    )
    return directory


async def test_an_address_is_cleared_for_each_customer_of_that_shop_and_audited() -> None:
    store, published = MemorySuppressionStore(), Published()
    await store.suppress([held("acme", "ada@example.com", "ada"), held("bolt", "ada@example.com")])
    request = Request("acme", "ops", "the mailbox works again", address="Ada@Example.com")
    cleared = await unsuppress(
        request, directory=await _directory(), store=store, publish=published, now=NOW
    )
    assert [(e.type, e.shopid, e.customerid) for e in published] == [
        ("address.unsuppressed", "acme", "ada"),
        ("address.unsuppressed", "acme", "ada-2"),
    ]
    event = published[0]
    assert isinstance(event, fb.AddressUnsuppressedEvent)
    assert (event.data.email, event.data.actor, event.data.reason, event.time) == (
        "ada@example.com",
        "ops",
        "the mailbox works again",
        NOW,
    )
    assert [c.cleared for c in cleared] == ["all:hard_bounce", "nothing held"]
    assert [(c.customer_id, c.actor, c.at) for c in await store.audit("acme")] == [
        ("ada", "ops", NOW),
        ("ada-2", "ops", NOW),
    ]
    assert await store.active("acme", address="ada@example.com") == []
    assert len(await store.active("bolt", address="ada@example.com")) == 1  # another shop's


async def test_a_customer_is_cleared_for_the_addresses_held_and_known() -> None:
    store, published = MemorySuppressionStore(), Published()
    await store.suppress([held("acme", "old@example.com", "ada")])
    request = Request("acme", "ops", "asked", customer_id="ada")
    await unsuppress(request, directory=await _directory(), store=store, publish=published)
    assert sorted(
        str(e.data.email) for e in published if isinstance(e, fb.AddressUnsuppressedEvent)
    ) == [
        "ada@example.com",
        "old@example.com",
    ]


async def test_nothing_to_clear_or_a_bad_request_publishes_nothing() -> None:
    store, published = MemorySuppressionStore(), Published()
    directory = await _directory()
    for request, message in (
        (Request("acme", "ops", "why", address="nobody@example.com"), "no customer"),
        (Request("acme", "ops", "why", customer_id="nobody"), "knows no address"),
        (Request("acme", "ops", "why", address="not an address"), "not an email"),
        (Request("acme", "ops", "why"), "not both"),
        (Request("acme", "ops", " ", address="ada@example.com"), "why"),
    ):
        with pytest.raises(CannotUnsuppress, match=message):
            await unsuppress(request, directory=directory, store=store, publish=published)
    assert published == []
    assert await store.audit("acme") == []


async def test_without_the_broker_nothing_is_audited() -> None:
    store, published = MemorySuppressionStore(), Published()
    await store.suppress([held("acme", "ada@example.com", "ada", at=datetime.now(UTC))])
    published.failure = BrokerUnavailable("kafka did not acknowledge")
    request = Request("acme", "ops", "why", address="ada@example.com")
    with pytest.raises(BrokerUnavailable):
        await unsuppress(request, directory=await _directory(), store=store, publish=published)
    assert await store.audit("acme") == []
    assert len(await store.active("acme", address="ada@example.com")) == 1
