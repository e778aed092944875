"""The services under test: a bench shop, `python -m services.ingest` and
`python -m services.feedback` as their own processes, and the floor apps beside them.

The bench uses the local stack's main database (the one `deploy/local/run.sh infra`
migrates) with its secret key, not `nudge_test`: the test suite rebuilds that schema at the
start of every session, which would pull the shop from under a running benchmark.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from pydantic import SecretStr

from shared.credentials import SecretBox
from shared.db.engine import make_engine
from shared.keyring import LinkKeys, MasterKeyRing
from shared.settings import DatabaseSettings, SecretKeySettings
from shared.tenancy import ShopCredentials, ShopRegistry
from tests.support.feedback_process import MASTER_KEY_SETTINGS
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
    """A service under test (ingest, feedback, or a floor app): its base URL and process."""

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


FEEDBACK_TWILIO_TOKEN = "bench-twilio-auth-token"
"""The Twilio auth token the bench signs inbound texts with and feedback checks them with."""


def at_own_url(module: str) -> tuple[str, str]:
    """`python -c` arguments that run `module` with NUDGE_FEEDBACK_PUBLIC_URL set to the address
    it listens on ("{port}" is filled in by ingest_process): what the bench signs with."""
    return (
        "-c",
        "import os, runpy; os.environ['NUDGE_FEEDBACK_PUBLIC_URL'] = 'http://127.0.0.1:{port}'; "
        f"runpy.run_module({module!r}, run_name='__main__', alter_sys=True)",
    )


def feedback_env(kafka: str, link_keys: LinkKeys, **settings: str) -> dict[str, str]:
    """This environment without master keys or feedback settings of its own, plus the link keys,
    the bench's Twilio token and `settings` (NUDGE_FEEDBACK_<NAME>)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in MASTER_KEY_SETTINGS and not k.startswith(("NUDGE_FEEDBACK_", "NUDGE_LINK_"))
    }
    feedback = {"twilio_auth_token": FEEDBACK_TWILIO_TOKEN, **settings}
    return {
        **env,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "NUDGE_LINK_KEYS": link_keys.to_text(),
        **{f"NUDGE_FEEDBACK_{k.upper()}": v for k, v in feedback.items()},
    }


@contextmanager
def running_feedback(
    kafka: str, database_url: str, log_path: Path, link_keys: LinkKeys
) -> Iterator[Ingest]:
    """Start feedback as `nudge feedback` runs in the local stack (link keys only, a new index
    group starting from the topics' end), its public URL its own address; stop it after."""
    env = feedback_env(
        kafka,
        link_keys,
        start_from="latest",
        group_id=f"bench-feedback-{uuid.uuid4().hex[:12]}",
    )
    env["DATABASE_URL"] = database_url
    argv = at_own_url("services.feedback")
    with ingest_process(env, log_path, argv, port_setting="NUDGE_FEEDBACK_PORT") as (url, pid):
        yield Ingest(url, pid)


@contextmanager
def running_feedback_floor(kafka: str, log_path: Path, link_keys: LinkKeys) -> Iterator[Ingest]:
    """The floor app (tests/bench/feedback_floor.py), configured as the service is."""
    env = feedback_env(kafka, link_keys)
    argv = at_own_url("tests.bench.feedback_floor")
    with ingest_process(env, log_path, argv, port_setting="NUDGE_FEEDBACK_PORT") as (url, pid):
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
