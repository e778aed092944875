"""What Faust itself costs per record: the floor under any Faust worker on this machine.

    python -m tests.bench.triggers.faust_floor APP_ID COUNT [--table | --batch-table]
        [--out FILE] [--topic TOPIC ...] [--batch-max N] [--batch-window-s S]

A Faust app with the workers' settings (raw bytes, RocksDB store, `take_events` batches of
the same size, the lean monitor, the producer's linger) whose agent does nothing with the
records but count them. With `--table` it also writes each record's value under its key with
Faust's table API (`table[key] = value`: one changelog message per write, as the segmenter
writes its profiles); with `--batch-table`, as the triggers worker writes its states (each
batch's writes as one changelog batch per partition, shared/state_table.py). It reads the
shop events topic (or the `--topic`s, as the segmenter bench asks, with its worker's batch
settings) from the group's committed (pinned) offsets, and once COUNT records went through it
writes `{"events", "seconds", "cpu_s"}` (first record to last) as JSON to FILE and stops.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import faust
import orjson
from mode import CrashingSupervisor

from services.triggers.settings import TriggersSettings
from shared.faust_runtime import LivenessMonitor, as_current_event, state_table
from shared.settings import KafkaSettings
from shared.state_table import Change
from shared.topics import SHOP_EVENTS

RAW = {"key_type": bytes, "value_type": bytes, "key_serializer": "raw", "value_serializer": "raw"}


def _change(event: faust.types.EventT[bytes]) -> Change:
    """The record's value under its key (the bench's records all have both)."""
    message = event.message
    return Change(cast(bytes, message.key), cast(bytes, message.value), message.partition, event)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("app_id")
    parser.add_argument("count", type=int)
    parser.add_argument("--table", action="store_true")
    parser.add_argument(
        "--batch-table", action="store_true", help="write as the worker does (state_table.py)"
    )
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--topic", action="append", help="default: the shop events topic")
    parser.add_argument("--batch-max", type=int, default=TriggersSettings().batch_max)
    parser.add_argument("--batch-window-s", type=float, default=TriggersSettings().batch_window_s)
    opts = parser.parse_args()
    servers = KafkaSettings().bootstrap_servers.split(",")
    app = faust.App(
        opts.app_id,
        broker=[f"kafka://{server.strip()}" for server in servers],
        store="rocksdb://",
        datadir=str(opts.data_dir),
        web_enabled=False,
        autodiscover=False,
        topic_partitions=SHOP_EVENTS.partitions,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger=TriggersSettings().producer_linger_s,
        Monitor=LivenessMonitor,
        stream_wait_empty=False,
        agent_supervisor=CrashingSupervisor,
    )
    kafka = KafkaSettings()
    states = state_table(app, "floor", SHOP_EVENTS.partitions, kafka)
    table = states.table
    source = app.topic(*(opts.topic or [SHOP_EVENTS.name]), **RAW)  # type: ignore[arg-type]
    seen = 0
    started: tuple[float, float] | None = None

    @app.agent(source, concurrency=1)
    async def count(stream: faust.StreamT[bytes]) -> AsyncIterator[None]:
        nonlocal seen, started
        batches = cast(faust.Stream[bytes], stream).take_events(opts.batch_max, opts.batch_window_s)
        async for events in batches:
            if started is None:
                started = (time.perf_counter(), time.process_time())
            if opts.batch_table:
                await states.write_all([_change(event) for event in events])
            elif opts.table:
                for event in events:
                    with as_current_event(event):  # as the worker writes (see there)
                        change = _change(event)
                        table[change.key] = cast(bytes, change.value)
            seen += len(events)
            if seen >= opts.count:
                wall, cpu = time.perf_counter() - started[0], time.process_time() - started[1]
                result = {"events": seen, "seconds": wall, "cpu_s": cpu}
                opts.out.write_bytes(orjson.dumps(result))
                os._exit(0)  # measured: no need for a clean shutdown of a throw-away group
            yield None

    worker = faust.Worker(app, loglevel="warning")
    worker.spinner = None
    worker.execute_from_commandline()


if __name__ == "__main__":
    main()
