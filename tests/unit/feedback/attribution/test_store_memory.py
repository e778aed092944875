"""The in-memory touch store against the one contract suite."""

from __future__ import annotations

from services.feedback.attribution.store import MemoryTouchStore, TouchLimits, TouchStore
from tests.support.touch_store_contract import LIMITS, TouchStoreContract


class TestMemoryTouchStore(TouchStoreContract):
    def store(self, limits: TouchLimits = LIMITS) -> TouchStore:
        return MemoryTouchStore(limits)
