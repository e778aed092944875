"""The service under test: a bench shop, and `python -m services.ingest` as its own process.

The bench uses the local stack's main database (the one `deploy/local/run.sh infra`
migrates) with its secret key, not `nudge_test`: the test suite rebuilds that schema at the
start of every session, which would pull the shop from under a running benchmark.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from pydantic import SecretStr

from shared.credentials import SecretBox
from shared.db.engine import make_engine
from shared.keyring import MasterKeyRing
from shared.settings import DatabaseSettings, SecretKeySettings
from shared.tenancy import ShopCredentials, ShopRegistry
from tests.support.ingest_process import ingest_process

ROOT = Path(__file__).resolve().parents[2]
BENCH_SHOP = "bench-ingest"
BENCH_DOMAIN = f"{BENCH_SHOP}.myshopify.com"
BENCH_RATE_LIMIT = 1_000_000
"""Events per second: far above what one process can take, so the limiter never answers 429."""


def master_keys() -> MasterKeyRing:
    """The keys the services use: NUDGE_SECRET_KEYS_FILE or NUDGE_SECRET_KEY(_FILE), else the
    local stack's file (set in this process's environment, which ingest inherits)."""
    os.environ.setdefault("NUDGE_SECRET_KEY_FILE", str(ROOT / ".local" / "secret.key"))
    return SecretKeySettings().ring()


def bench_shop(database_url: str) -> ShopCredentials:
    """The bench shop with fresh credentials: created once, its keys rotated on each run."""

    async def run() -> ShopCredentials:
        engine = make_engine(DatabaseSettings(url=SecretStr(database_url)))
        registry = ShopRegistry(engine, SecretBox(master_keys()))
        try:
            if any(s.shop_id == BENCH_SHOP for s in await registry.list()):
                return await registry.rotate(BENCH_SHOP, grace=timedelta(0))
            return await registry.add(
                BENCH_SHOP,
                "Benchmark shop",
                shopify_domain=BENCH_DOMAIN,
                rate_limit_per_s=BENCH_RATE_LIMIT,
            )
        finally:
            await engine.dispose()

    return asyncio.run(run())


@dataclass(frozen=True)
class Ingest:
    url: str
    pid: int


@contextmanager
def running_ingest(kafka: str, database_url: str, log_path: Path, workers: int) -> Iterator[Ingest]:
    """Start ingest as `nudge ingest` runs (its defaults but the worker count), stop it after."""
    master_keys()  # fails here, before ingest starts, when there are none
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "DATABASE_URL": database_url,
        "NUDGE_INGEST_WORKERS": str(workers),
    }
    with ingest_process(env, log_path) as (url, pid):
        yield Ingest(url, pid)


@contextmanager
def running_floor(kafka: str, log_path: Path, workers: int) -> Iterator[Ingest]:
    """The floor app (tests/bench/ingest_floor.py) under uvicorn with `workers` processes."""
    argv = [
        *("-m", "uvicorn", "tests.bench.ingest_floor:app", "--port", "{port}"),
        *("--workers", str(workers), "--no-access-log"),
    ]
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": kafka}
    with ingest_process(env, log_path, argv) as (url, pid):
        yield Ingest(url, pid)


def process_tree(pid: int) -> list[int]:
    """The process and its descendants (ingest's worker processes)."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            pids += process_tree(int(child))
    return pids


def peak_rss_mib(pid: int) -> float:
    """VmHWM summed over the process tree: the most resident memory each ever had."""
    return sum(_status_kib(p, "VmHWM") for p in process_tree(pid)) / 1024


def rss_mib(pid: int) -> float:
    return sum(_status_kib(p, "VmRSS") for p in process_tree(pid)) / 1024


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process and its live descendants have used so far."""
    total = 0
    for p in process_tree(pid):
        try:
            stat = Path(f"/proc/{p}/stat").read_text()
        except OSError:  # exited meanwhile
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def wait_until_idle(pid: int, *, below: float = 0.05, limit_s: float = 60.0) -> float:
    """Wait until the process uses less than `below` of a core; returns the seconds waited.

    An overloaded scenario leaves requests that the client gave up on but the service still
    works through; the next scenario must not pay for them.
    """
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        if (cpu_seconds(pid) - before) / 0.5 < below:
            break
    return time.monotonic() - started


def broker_pid() -> int | None:
    """The local stack's broker (deploy/local/kafka.sh), for its CPU share; None elsewhere."""
    pid_file = Path(os.environ.get("NUDGE_KAFKA_DIR", ROOT / ".local" / "kafka")) / "kafka.pid"
    try:
        pid = int(pid_file.read_text().strip())
        cpu_seconds(pid)
    except (OSError, ValueError):
        return None
    return pid
