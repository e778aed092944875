"""The in-memory state table against the one contract suite."""

from __future__ import annotations

from shared.state_table import MemoryStateTable, StateTable
from tests.support.state_table_contract import StateTableContract


class TestMemoryStateTable(StateTableContract):
    def table(self) -> StateTable:
        return MemoryStateTable()
