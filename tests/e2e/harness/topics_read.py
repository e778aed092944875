"""Every record a topic holds, from its beginning to the end offsets at the moment of asking."""

from __future__ import annotations

import time

from kafka import KafkaConsumer, TopicPartition


def read_all(bootstrap: str, topics: set[str], timeout_s: float = 60.0) -> list[bytes]:
    """The values of every record on `topics` (kafka-python, as the repo's tests read raw
    records), partition by partition in offset order; what is written meanwhile is left out."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [
            TopicPartition(t, p)
            for t in sorted(topics)
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        ends = consumer.end_offsets(partitions)
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        values: list[bytes] = []
        remaining = {tp for tp in partitions if ends[tp] > 0}
        deadline = time.monotonic() + timeout_s
        while remaining and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=1000).items():
                values += [r.value for r in records if r.offset < ends[tp] and r.value is not None]
                if consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return values
    finally:
        consumer.close()
