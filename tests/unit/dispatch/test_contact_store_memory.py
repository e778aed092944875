"""The in-memory contact store against the one contract suite."""

from __future__ import annotations

from services.dispatch.ports import Store
from services.dispatch.stores.memory import MemoryStore
from tests.support.clocks import PinnedClock
from tests.support.contact_store_contract import ContactStoreContract
from tests.support.dispatch_factories import NOON


class TestMemoryContactStore(ContactStoreContract):
    def store(self) -> Store:
        return MemoryStore(PinnedClock(NOON))
