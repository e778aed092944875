"""A stream worker's state table (shared/state_table.py), its behaviour written once: the
in-memory adapter runs it in the unit tests, the Faust adapter against the broker in the
integration tests (one-line factories, as the other stores' contracts)."""

from __future__ import annotations

from abc import ABC, abstractmethod

from shared.state_table import Change, StateTable


class StateTableContract(ABC):
    PARTITIONS = 3

    @abstractmethod
    def table(self) -> StateTable:
        """A fresh, empty adapter with `PARTITIONS` partitions."""

    async def test_an_unknown_key_has_no_state(self) -> None:
        table = self.table()
        assert table.get(b"acme:nobody", None) is None
        assert list(table.items()) == []

    async def test_written_states_read_back_on_their_partitions(self) -> None:
        table = self.table()
        changes = [
            Change(f"acme:c{n}".encode(), f"state {n}".encode(), n % self.PARTITIONS)
            for n in range(20)
        ]
        await table.write_all(changes)
        for change in changes:
            assert table.get(change.key, None) == change.value
        assert sorted(table.items()) == sorted((c.key, c.value) for c in changes)

    async def test_a_later_write_replaces_the_state(self) -> None:
        table = self.table()
        await table.write_all([Change(b"acme:c1", b"first", 1)])
        await table.write_all([Change(b"acme:c1", b"second", 1), Change(b"acme:c2", b"x", 2)])
        assert table.get(b"acme:c1", None) == b"second"
        assert sorted(table.items()) == [(b"acme:c1", b"second"), (b"acme:c2", b"x")]

    async def test_a_state_of_none_removes_the_key(self) -> None:
        table = self.table()
        await table.write_all([Change(b"acme:c1", b"state", 0), Change(b"acme:c2", b"kept", 0)])
        await table.write_all([Change(b"acme:c1", None, 0), Change(b"acme:gone", None, 1)])
        assert table.get(b"acme:c1", None) is None
        assert list(table.items()) == [(b"acme:c2", b"kept")]

    async def test_an_empty_batch_changes_nothing(self) -> None:
        table = self.table()
        await table.write_all([Change(b"acme:c1", b"state", 0)])
        await table.write_all([])
        assert list(table.items()) == [(b"acme:c1", b"state")]
