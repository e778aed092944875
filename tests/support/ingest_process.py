"""The ingest service run as users run it: `nudge ingest` in its own process, over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
TEST_SECRET_KEY = "test-secret-key-0123456789abcdefghijklmnop"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def service_env(kafka: str, database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "DATABASE_URL": database_url,
        "NUDGE_SECRET_KEY": TEST_SECRET_KEY,
        **extra,
    }


@contextmanager
def running_ingest(kafka: str, database_url: str, log_path: Path, **settings: str) -> Iterator[str]:
    """Start `nudge ingest` with test settings, wait until it is ready, yield its base URL."""
    env = service_env(
        kafka,
        database_url,
        NUDGE_INGEST_CREDENTIALS_REFRESH_S="1",
        **{f"NUDGE_INGEST_{k.upper()}": v for k, v in settings.items()},
    )
    with ingest_process(env, log_path) as (base, _):
        yield base


INGEST_ARGV = ("-m", "services.ingest")


@contextmanager
def ingest_process(
    env: dict[str, str],
    log_path: Path,
    argv: Sequence[str] = INGEST_ARGV,
    *,
    port_setting: str = "NUDGE_INGEST_PORT",
) -> Iterator[tuple[str, int]]:
    """Run `python -m services.ingest` (or `argv`, where "{port}" is the port; or another HTTP
    service, told its port by `port_setting`) on a free port with `env`; yield (base URL, pid).

    Waits for /readyz before yielding and stops the process afterwards; its output is
    appended to `log_path`.
    """
    port = free_port()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, *(arg.format(port=port) for arg in argv)],
            cwd=ROOT,
            env={**env, port_setting: str(port)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, proc, log_path)
        yield base, proc.pid
    finally:
        stop_process(proc, timeout_s=15)


def stop_process(proc: subprocess.Popen[bytes], *, timeout_s: float = 10) -> None:
    """SIGTERM, and SIGKILL when it has not exited within `timeout_s`."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_until_ready(base: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the service exited with {proc.returncode}: {log_path.read_text()}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"the service is not ready in 60s: {log_path.read_text()[-3000:]}")
