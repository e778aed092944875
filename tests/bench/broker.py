"""The broker side of the benchmark: topic offsets, record sizes, and the raw producer rate.

The raw rate is what Kafka's own Java producer achieves against the same broker in the same
run, with the same durability settings (acks=all, idempotence) and the same record size:
the ceiling that ingest's figures are read against.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic

ROOT = Path(__file__).resolve().parents[2]
KAFKA_LIBS = ROOT / ".cache" / "kafka" / "libs"
LOG4J_CONFIG = ROOT / "deploy" / "local" / "kafka" / "log4j2.properties"


def end_offsets_total(bootstrap: str, topic: str) -> int:
    """Records ever appended to `topic` (sum of end offsets; one offset per record)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        return sum(consumer.end_offsets(partitions).values())
    finally:
        consumer.close()


@dataclass(frozen=True)
class RecordSizes:
    """Mean key and value bytes of a sample of the records ingest produced."""

    sampled: int
    key_bytes: float
    value_bytes: float

    @property
    def record_bytes(self) -> int:
        return round(self.key_bytes + self.value_bytes)


def sample_record_sizes(
    bootstrap: str, topic: str, shop_id: str, per_partition: int = 200
) -> RecordSizes:
    """Read the last records of each partition and average those of the bench shop.

    Run right after a scenario, so the tail of every partition is the scenario's output.
    """
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)]
        end = consumer.end_offsets(partitions)
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, max(0, end[tp] - per_partition))
        keys = values = count = 0
        marker = f'"shopid":"{shop_id}"'.encode()
        pending = {tp for tp in partitions if end[tp] > 0}
        while pending:
            polled = consumer.poll(timeout_ms=2000)
            if not polled:
                break
            for tp, records in polled.items():
                for record in records:
                    if record.offset < end[tp] and marker in record.value:
                        keys += len(record.key or b"")
                        values += len(record.value)
                        count += 1
                if consumer.position(tp) >= end[tp]:
                    pending.discard(tp)
        if count == 0:
            raise RuntimeError(f"no record of shop {shop_id} found at the end of {topic}")
        return RecordSizes(count, keys / count, values / count)
    finally:
        consumer.close()


@contextmanager
def scratch_topic(bootstrap: str, partitions: int, prefix: str = "bench.raw") -> Iterator[str]:
    """A throw-away topic for a bench, deleted afterwards (no disk left behind)."""
    name = f"{prefix}.{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="nudge-bench")
    try:
        admin.create_topics([NewTopic(name, partitions, 1)])
        yield name
    finally:
        try:
            admin.delete_topics([name])
        finally:
            admin.close()


@dataclass(frozen=True)
class RawRate:
    """The final summary line of org.apache.kafka.tools.ProducerPerformance."""

    records: int
    records_per_s: float
    mb_per_s: float
    latency_ms: dict[str, float]
    """avg, max, p50, p95, p99, p99.9 (ack latency of each record, queueing included)."""


SUMMARY = re.compile(
    r"(?P<records>\d+) (?:steady state )?records sent, (?P<rps>[\d.]+) records/sec "
    r"\((?P<mbps>[\d.]+) MB/sec\), (?P<avg>[\d.]+) ms avg latency, (?P<max>[\d.]+) ms max "
    r"latency, (?P<p50>\d+) ms 50th, (?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th, "
    r"(?P<p999>\d+) ms 99.9th"
)


def parse_summary(output: str) -> RawRate:
    """The last summary: with --warmup-records that is the steady-state one."""
    matches = list(SUMMARY.finditer(output))
    if not matches:
        raise RuntimeError(f"no summary line in ProducerPerformance output:\n{output[-2000:]}")
    m = matches[-1]
    return RawRate(
        records=int(m["records"]),
        records_per_s=float(m["rps"]),
        mb_per_s=float(m["mbps"]),
        latency_ms={k: float(m[k]) for k in ("avg", "max", "p50", "p95", "p99", "p999")},
    )


def producer_performance(
    bootstrap: str, topic: str, *, records: int, warmup: int, record_size: int
) -> RawRate:
    """Run Kafka's producer benchmark from the broker's own jars: flat out, acks=all,
    idempotent, otherwise the Java client's defaults (null keys, sticky partitioning)."""
    os.sync()  # as before every ingest scenario (scenario.settle_disk)
    cmd = [
        "java",
        "-Xmx512m",
        f"-Dlog4j2.configurationFile={LOG4J_CONFIG}",
        "-Dnudge.log.level=WARN",
        "-Dnudge.log.target=SYSTEM_ERR",
        "-cp",
        f"{KAFKA_LIBS}/*",
        "org.apache.kafka.tools.ProducerPerformance",
        "--bootstrap-server",
        bootstrap,
        "--topic",
        topic,
        "--num-records",
        str(records),
        "--warmup-records",
        str(warmup),
        "--record-size",
        str(record_size),
        "--throughput",
        "-1",
        "--reporting-interval",
        "60000",
        "--command-property",
        "acks=all",
        "enable.idempotence=true",
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return parse_summary(out)


def partition_count(bootstrap: str, topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        return len(consumer.partitions_for_topic(topic) or ())
    finally:
        consumer.close()
