"""`nudge topics list`: each declared topic as the cluster has it.

Partitions, cleanup policy and retention as the broker reports them (the declaration's when
the broker would not say, marked so), the sum of the partitions' end offsets, the current
rate (records/s: the end offsets sampled twice, `sample_s` apart), and a mark for a topic that
is declared but missing, or whose partitions or settings differ from shared/topics.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from shared.kafka import BrokerTopic, TopicInspector
from shared.settings import KafkaSettings
from shared.topics import ALL_TOPICS, TopicSpec

SHOWN_CONFIG: Final = ("cleanup.policy", "retention.ms")
Status = Literal["ok", "missing", "differs"]


@dataclass(frozen=True)
class TopicRow:
    """One declared topic, as found on the cluster."""

    spec: TopicSpec
    exists: bool
    partitions: int | None
    cleanup_policy: str | None
    retention_ms: int | None
    """-1 when the broker keeps records forever; None when neither broker nor declaration say."""
    config_source: Literal["broker", "declared"]
    """Whether the settings above are what the broker reported or, when it would not say
    (the credentials may not allow describing configurations), the declaration."""
    end_offsets: int | None
    rate_per_s: float | None
    """None when not sampled (`--sample 0`) or the topic is missing."""
    differences: tuple[str, ...] = ()

    @property
    def status(self) -> Status:
        if not self.exists:
            return "missing"
        return "differs" if self.differences else "ok"


def differences(spec: TopicSpec, broker: BrokerTopic) -> tuple[str, ...]:
    """What the cluster has otherwise than declared (settings it did not report are not
    compared)."""
    found: list[str] = []
    if len(broker.partitions) != spec.partitions:
        found.append(f"partitions {len(broker.partitions)} (declared {spec.partitions})")
    for key, declared in spec.config().items():
        actual = broker.config.get(key)
        if actual is not None and actual != declared:
            found.append(f"{key} {actual} (declared {declared})")
    return tuple(found)


def rate(first: int | None, second: int | None, elapsed_s: float | None) -> float | None:
    """Records appended per second between two sums of end offsets."""
    if first is None or second is None or not elapsed_s or elapsed_s <= 0:
        return None
    return round(max(0, second - first) / elapsed_s, 1)


def build_row(
    spec: TopicSpec,
    broker: BrokerTopic | None,
    first: int | None = None,
    second: int | None = None,
    elapsed_s: float | None = None,
) -> TopicRow:
    if broker is None:
        return TopicRow(spec, False, None, None, None, "declared", None, None)
    reported = all(key in broker.config for key in SHOWN_CONFIG)
    config = broker.config if reported else {**spec.config(), **broker.config}
    retention = config.get("retention.ms")
    return TopicRow(
        spec,
        True,
        len(broker.partitions),
        config.get("cleanup.policy"),
        int(retention) if retention is not None else None,
        "broker" if reported else "declared",
        second if second is not None else first,
        rate(first, second, elapsed_s),
        differences(spec, broker),
    )


def inspect(
    settings: KafkaSettings,
    specs: Sequence[TopicSpec] = ALL_TOPICS,
    *,
    sample_s: float = 1.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[TopicRow]:
    """Describe `specs` on the cluster; with `sample_s` > 0, sample the end offsets twice."""
    keys = {key for spec in specs for key in spec.config()} | set(SHOWN_CONFIG)
    with TopicInspector(settings) as cluster:
        found = cluster.describe([spec.name for spec in specs], sorted(keys))
        first = cluster.end_offsets(found.values())
        second: dict[str, int] = {}
        elapsed: float | None = None
        if sample_s > 0:
            started = clock()
            sleep(sample_s)
            second = cluster.end_offsets(found.values())
            elapsed = clock() - started
    return [
        build_row(spec, found.get(spec.name), first.get(spec.name), second.get(spec.name), elapsed)
        for spec in specs
    ]


def retention_text(ms: int | None) -> str:
    """`30d`, `12h`, `forever`; the milliseconds when they are no round figure."""
    if ms is None:
        return "-"
    if ms < 0:
        return "forever"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        if ms and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms}ms"


HEADER: Final = ("topic", "partitions", "cleanup", "retention", "end offsets", "records/s", "")


def text_rows(rows: Iterable[TopicRow]) -> list[str]:
    """An aligned table, then one line per difference under the topic it concerns."""
    table: list[tuple[str, ...]] = [HEADER]
    notes: dict[int, tuple[str, ...]] = {}
    for row in rows:
        if not row.exists:
            table.append(
                (row.spec.name, "-", "-", "-", "-", "-", "MISSING (or not visible to you)")
            )
            continue
        declared = " (declared)" if row.config_source == "declared" else ""
        table.append(
            (
                row.spec.name,
                str(row.partitions),
                f"{row.cleanup_policy or '-'}{declared}",
                f"{retention_text(row.retention_ms)}{declared}",
                str(row.end_offsets if row.end_offsets is not None else "-"),
                "-" if row.rate_per_s is None else f"{row.rate_per_s:.1f}",
                "DIFFERS from shared/topics.py" if row.differences else "",
            )
        )
        if row.differences:
            notes[len(table) - 1] = row.differences
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    right = {1, 4, 5}
    out: list[str] = []
    for n, line in enumerate(table):
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(line)
        ]
        out.append("  ".join(cells).rstrip())
        out.extend(f"    {note}" for note in notes.get(n, ()))
    return out


def json_row(row: TopicRow) -> dict[str, Any]:
    """One JSON Lines object per topic (field names documented in docs/ANALYSTS.md)."""
    return {
        "topic": row.spec.name,
        "status": row.status,
        "partitions": row.partitions,
        "declared_partitions": row.spec.partitions,
        "cleanup_policy": row.cleanup_policy,
        "retention_ms": row.retention_ms,
        "config_source": row.config_source if row.exists else None,
        "end_offsets": row.end_offsets,
        "records_per_s": row.rate_per_s,
        "differences": list(row.differences),
    }
