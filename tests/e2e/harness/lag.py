"""Consumer lag per group: the records on its topics' partitions that it has not committed.

`group_lag` is pure; `LagProbe` asks the broker (kafka-python's admin client, as shared/kafka.py
does) for every group's committed offsets and the partitions' end offsets.
"""

from __future__ import annotations

from collections.abc import Mapping

from kafka import KafkaAdminClient, TopicPartition
from kafka.admin import OffsetSpec

Offsets = Mapping[tuple[str, int], int]


def group_lag(committed: Offsets, ends: Offsets) -> int:
    """Records behind on the partitions the group has committed on: end minus committed, never
    negative (an end offset read before a commit that came after it)."""
    return sum(max(0, ends.get(tp, offset) - offset) for tp, offset in committed.items())


class LagProbe:
    """One admin connection, asked once a second."""

    def __init__(self, bootstrap: str) -> None:
        self._bootstrap = bootstrap
        self._admin: KafkaAdminClient | None = None
        self.last_offsets: tuple[dict[str, dict[tuple[str, int], int]], Offsets] | None = None
        """(group -> committed offsets, end offsets) of the last answer."""

    def _client(self) -> KafkaAdminClient:
        if self._admin is None:
            self._admin = KafkaAdminClient(
                bootstrap_servers=self._bootstrap,
                client_id="nudge-e2e-lag",
                request_timeout_ms=5000,
            )
        return self._admin

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    def lags(self) -> dict[str, int]:
        """Group id -> lag; raises on a broker that does not answer (the caller records a
        gap, and a new connection is made next time)."""
        try:
            admin = self._client()
            groups = [g["group_id"] for g in admin.list_groups()]
            found_offsets = admin.list_group_offsets(groups) if groups else {}
            committed = {
                group: {
                    (tp.topic, tp.partition): meta.offset
                    for tp, meta in offsets.items()
                    if meta.offset >= 0
                }
                for group, offsets in found_offsets.items()
            }
            wanted = {tp for offsets in committed.values() for tp in offsets}
            ends: dict[tuple[str, int], int] = {}
            if wanted:
                found = admin.list_partition_offsets(
                    {TopicPartition(t, p): OffsetSpec.LATEST for t, p in wanted}
                )
                ends = {(tp.topic, tp.partition): info.offset for tp, info in found.items()}
            self.last_offsets = (committed, ends)
            return {group: group_lag(offsets, ends) for group, offsets in committed.items()}
        except Exception:
            self.close()
            raise


class CatchUp:
    """Whether every consumer group has read what was written before a moment.

    A live system under a running clock is rarely at lag 0 (timers keep firing, and Faust
    commits every few seconds), so a round takes the end offsets of one answer as its target
    and ends when every group has committed at least that far on each partition it reads;
    `rounds` rounds in a row cover a chain of that many hops (shop events -> triggers ->
    dispatch: each round's target is written after the previous hop had read its input)."""

    def __init__(self, rounds: int = 3) -> None:
        self.rounds = rounds
        self.done = 0
        self._target: dict[tuple[str, int], int] | None = None

    def observe(self, committed: Mapping[str, Offsets], ends: Offsets) -> bool:
        """Take one answer of the broker; True once `rounds` rounds are complete."""
        if self.done >= self.rounds:
            return True
        if self._target is not None and all(
            offsets[tp] >= end
            for offsets in committed.values()
            for tp, end in self._target.items()
            if tp in offsets
        ):
            self.done += 1
            self._target = None
        if self._target is None and self.done < self.rounds:
            self._target = dict(ends)
        return self.done >= self.rounds
