"""The in-memory message log against the one contract suite."""

from __future__ import annotations

from datetime import datetime

from services.dispatch.ports import Store
from services.dispatch.stores.memory import MemoryStore
from tests.support.clocks import PinnedClock
from tests.support.dispatch_factories import NOON
from tests.support.message_log_contract import MessageLogContract


class TestMemoryMessageLog(MessageLogContract):
    clock = PinnedClock(NOON)

    def store(self) -> Store:
        self.clock = PinnedClock(NOON)
        return MemoryStore(self.clock)

    def now(self) -> datetime:
        return self.clock.now()

    async def wait(self, seconds: float) -> None:
        self.clock.advance(seconds)
