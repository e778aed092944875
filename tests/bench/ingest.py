"""`make bench`: ingest's throughput, latency and memory, next to the raw Kafka producer rate.

Scenarios, each warmed up and then measured (figures of the measured part only):

- batch API: POST /v1/events with 100-event batches, flat out from a fixed number of
  concurrent requests (events/s is the figure);
- Shopify webhooks: one orders/create delivery per request, first flat out from a fixed
  number of concurrent requests (the most webhooks/s this ingest process takes), then at a
  constant 1,000 requests/s (latency percentiles are the figure, free of coordinated
  omission; vegeta keeps sending on schedule even when ingest falls behind);
- floor: tests/bench/ingest_floor.py on the same batches, the least any ingest validating
  with these models must spend (no change inside ingest can beat it);
- raw: Kafka's own ProducerPerformance from the broker's jars, acks=all and idempotent like
  ingest, at the mean size of the records ingest actually produced.

Prints a table, and writes the same figures to .local/bench/ingest.json. Never asserts a
timing: targets are shown as met or missed for a human to judge. Run with the local stack up
(`make bench` starts it); `--help` lists the knobs.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import uuid
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import orjson

from shared.settings import DatabaseSettings, KafkaSettings
from shared.topics import SHOP_EVENTS
from tests.bench.broker import (
    RawRate,
    partition_count,
    producer_performance,
    sample_record_sizes,
    scratch_topic,
)
from tests.bench.report import Machine, Memory, Results, render
from tests.bench.scenario import Load, run_scenario
from tests.bench.service import (
    BENCH_DOMAIN,
    bench_shop,
    broker_pid,
    peak_rss_mib,
    rss_mib,
    running_floor,
    running_ingest,
)
from tests.bench.targets import Counter, native_batches, shopify_webhooks, write_targets

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / ".local" / "bench"
SHOPIFY_TIMEOUT_S = 5.0
"""Shopify fails a webhook delivery that is not answered within 5 seconds."""


@dataclass(frozen=True)
class Options:
    seconds: float
    batch_size: int
    batch_workers: int
    batch_warmup: int
    webhook_rate: int
    webhook_warmup_s: float
    webhook_workers: int
    raw_records: int
    ingest_workers: int


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="measured time per scenario")
    parser.add_argument("--batch-size", type=int, default=100, help="events per batch request")
    parser.add_argument(
        "--batch-workers", type=int, default=8, help="concurrent batch requests (flat out)"
    )
    parser.add_argument("--batch-warmup", type=int, default=300, help="warm-up batch requests")
    parser.add_argument("--webhook-rate", type=int, default=1000, help="webhooks per second")
    parser.add_argument("--webhook-warmup-s", type=float, default=3.0, help="webhook warm-up")
    parser.add_argument(
        "--webhook-workers", type=int, default=16, help="concurrent webhooks (flat out)"
    )
    parser.add_argument(
        "--raw-records", type=int, default=1_000_000, help="ProducerPerformance records"
    )
    parser.add_argument(
        "--ingest-workers",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="ingest worker processes (NUDGE_INGEST_WORKERS; default: one per core)",
    )
    ns = parser.parse_args(argv)
    return Options(**vars(ns))


def say(message: str) -> None:
    """Progress on stderr, so stdout holds only the results table."""
    print(f"==> {message}", file=sys.stderr, flush=True)


def machine() -> Machine:
    model = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kib = int(Path("/proc/meminfo").read_text().split()[1])
    return Machine(
        cores=len(os.sched_getaffinity(0)),
        cpu_model=model,
        memory_gib=mem_kib / 1024 / 1024,
        python=platform.python_version(),
    )


def raw_rate(kafka: str, record_bytes: int, records: int) -> RawRate:
    """ProducerPerformance on a scratch topic with shop.events.v1's partition count."""
    partitions = partition_count(kafka, SHOP_EVENTS.name)
    with scratch_topic(kafka, partitions) as topic:
        return producer_performance(
            kafka, topic, records=records, warmup=records // 5, record_size=record_bytes
        )


def measure(opts: Options) -> Results:
    kafka = KafkaSettings().bootstrap_servers
    database_url = DatabaseSettings().url.get_secret_value()
    OUT.mkdir(parents=True, exist_ok=True)
    shop = bench_shop(database_url)
    counter = Counter.starting_at(uuid.uuid4().hex[:8], 0)
    order_ids_from = int(uuid.uuid4().int % 10**15) * 1000  # unique orders across runs
    broker = broker_pid()
    with (
        tempfile.TemporaryDirectory(dir=OUT, prefix="work-") as tmp,
        running_ingest(kafka, database_url, OUT / "ingest.log", opts.ingest_workers) as ingest,
    ):
        workdir = Path(tmp)
        key = shop.api_key.get_secret_value()
        secret = shop.webhook_secret.get_secret_value()

        def batches(path: Path, n: int) -> int:
            url = f"{ingest.url}/v1/events"
            return write_targets(path, native_batches(url, key, counter, n, opts.batch_size))

        def webhooks(path: Path, n: int) -> int:
            url = f"{ingest.url}/v1/webhooks/shopify"
            lines = shopify_webhooks(url, BENCH_DOMAIN, secret, counter, n, order_ids_from)
            return write_targets(path, lines)

        scenario = partial(run_scenario, ingest, workdir=workdir, kafka=kafka, broker=broker)
        say(f"batch API: {opts.batch_size}-event batches, {opts.batch_workers} concurrent")
        batch = scenario(
            batches,
            Load(0, opts.batch_workers, opts.batch_warmup, opts.seconds),
            name="batch",
        )
        say("sampling the records ingest produced")
        sizes = sample_record_sizes(kafka, SHOP_EVENTS.name, shop.shop_id)
        say(f"Shopify webhooks: flat out, {opts.webhook_workers} concurrent")
        capacity = scenario(
            webhooks,
            Load(0, opts.webhook_workers, 500, opts.seconds / 2, SHOPIFY_TIMEOUT_S),
            name="webhooks-max",
        )
        say(f"Shopify webhooks: {opts.webhook_rate}/s")
        warmup = round(opts.webhook_rate * opts.webhook_warmup_s)
        hooks = scenario(
            webhooks,
            Load(opts.webhook_rate, None, warmup, opts.seconds, SHOPIFY_TIMEOUT_S),
            name="webhooks",
        )
        memory = Memory(peak_rss_mib(ingest.pid), rss_mib(ingest.pid))
    say(f"floor: bare ASGI app, validation and publishing only, {opts.ingest_workers} workers")
    with (
        tempfile.TemporaryDirectory(dir=OUT, prefix="work-") as tmp,
        running_floor(kafka, OUT / "floor.log", opts.ingest_workers) as bare,
    ):

        def floor_batches(path: Path, n: int) -> int:
            url = f"{bare.url}/v1/events"
            return write_targets(path, native_batches(url, "-", counter, n, opts.batch_size))

        floor = run_scenario(
            bare,
            floor_batches,
            Load(0, opts.batch_workers, opts.batch_warmup, opts.seconds),
            workdir=Path(tmp),
            name="floor",
            kafka=kafka,
            broker=broker,
        )
    say(f"raw producer: ProducerPerformance, {sizes.record_bytes}-byte records")
    raw = raw_rate(kafka, sizes.record_bytes, opts.raw_records)
    return Results(
        machine(), opts.__dict__, batch, hooks, capacity, sizes, memory, raw, opts.batch_size, floor
    )


def main(argv: list[str] | None = None) -> None:
    results = measure(parse_args(argv))
    print(render(results))
    (OUT / "ingest.json").write_bytes(
        orjson.dumps(results.as_json(), option=orjson.OPT_INDENT_2) + b"\n"
    )
    print(f"\n(figures also in {(OUT / 'ingest.json').relative_to(ROOT)})")


if __name__ == "__main__":
    main()
