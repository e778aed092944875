"""Reading exactly the records a test produced, from the real broker."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition


@dataclass(frozen=True)
class Record:
    key: str
    value: dict[str, Any]
    partition: int


class TopicWindow:
    """Remembers a topic's end offsets, then returns what was appended since."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        partitions = self._consumer.partitions_for_topic(topic) or set()
        self._partitions = [TopicPartition(topic, p) for p in sorted(partitions)]
        self._start = self._consumer.end_offsets(self._partitions)

    def since_start(self) -> list[Record]:
        end = self._consumer.end_offsets(self._partitions)
        self._consumer.assign(self._partitions)
        for tp in self._partitions:
            self._consumer.seek(tp, self._start[tp])
        out: list[Record] = []
        remaining = {tp for tp in self._partitions if end[tp] > self._start[tp]}
        while remaining:
            for tp, records in self._consumer.poll(timeout_ms=2000).items():
                for record in records:
                    if record.offset < end[tp]:
                        out.append(
                            Record(record.key.decode(), json.loads(record.value), tp.partition)
                        )
                if self._consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        return out

    @property
    def partitions(self) -> list[int]:
        return [tp.partition for tp in self._partitions]

    def for_shop(self, shop_id: str) -> list[Record]:
        return [r for r in self.since_start() if r.value["shopid"] == shop_id]

    def close(self) -> None:
        self._consumer.close()
