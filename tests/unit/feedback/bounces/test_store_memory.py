"""The in-memory suppression store against the one contract suite."""

from __future__ import annotations

from services.feedback.bounces.store import MemorySuppressionStore, SuppressionStore
from tests.support.suppression_contract import SuppressionStoreContract


class TestMemorySuppressionStore(SuppressionStoreContract):
    def store(self) -> SuppressionStore:
        return MemorySuppressionStore()
