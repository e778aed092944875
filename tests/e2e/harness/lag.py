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
            return {group: group_lag(offsets, ends) for group, offsets in committed.items()}
        except Exception:
            self.close()
            raise
