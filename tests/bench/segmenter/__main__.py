"""`python -m tests.bench.segmenter`: print the segmenter figures (see the package docstring).

Needs the local broker (KAFKA_BOOTSTRAP_SERVERS, default 127.0.0.1:19092) with the Nudge topics
created (`make up`). Progress goes to stderr, the table to stdout, the same figures as JSON to
.local/bench/segmenter.json. `--help` lists the knobs; `--skip-worker` / `--skip-ticks` run a
part alone.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from shared.settings import KafkaSettings
from tests.bench.ingest import machine
from tests.bench.segmenter import throughput, ticks
from tests.bench.segmenter.report import floor_share, render

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / ".local" / "bench"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=40_000, help="records through the worker")
    parser.add_argument("--customers", type=int, default=4_000, help="distinct customers")
    parser.add_argument("--worker-timeout", type=float, default=600.0, help="seconds")
    parser.add_argument("--tick-small", type=int, default=20_000, help="profiles, small tables")
    parser.add_argument("--tick-large", type=int, default=1_000_000, help="profiles, large tables")
    parser.add_argument("--tick-due", type=int, default=10_000, help="changing by time per tick")
    parser.add_argument(
        "--tick-templates", type=int, default=4_000, help="distinct ordinary customers"
    )
    parser.add_argument("--tick-repeat", type=int, default=3, help="timed samples per size")
    parser.add_argument(
        "--profile-worker", type=Path, help="run the worker under cProfile, stats to this file"
    )
    parser.add_argument(
        "--profile-in-process",
        type=Path,
        help="run the in-process breakdown under cProfile, stats to this file",
    )
    parser.add_argument("--skip-worker", action="store_true", help="no end-to-end worker run")
    parser.add_argument("--skip-ticks", action="store_true", help="no tick figures")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    opts = parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "machine": asdict(machine()),
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(opts).items()},
    }
    worker = reference = breakdown = output = tick = None
    if not opts.skip_worker:
        kafka = KafkaSettings().bootstrap_servers
        worker, reference, breakdown, output = throughput.run(
            kafka,
            opts.events,
            opts.customers,
            opts.worker_timeout,
            OUT,
            opts.profile_worker,
            opts.profile_in_process,
        )
        results |= {"worker": asdict(worker), "reference": asdict(reference)}
        results |= {"in_process": asdict(breakdown), "output": asdict(output)}
        results["floor_share"] = floor_share(worker, reference)[1]
    if not opts.skip_ticks:
        tick = ticks.tick_cost(
            opts.tick_small, opts.tick_large, opts.tick_due, opts.tick_templates, opts.tick_repeat
        )
        results["ticks"] = asdict(tick) | {"ratio": tick.ratio, "wall_ratio": tick.wall_ratio}
    print(render(machine(), worker, reference, breakdown, output, tick))
    (OUT / "segmenter.json").write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"\n(figures also in {(OUT / 'segmenter.json').relative_to(ROOT)})")


if __name__ == "__main__":
    main()
