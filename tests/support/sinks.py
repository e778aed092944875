"""The local SMTP and SMS sinks (deploy/local/sinks/) as processes the provider tests talk to."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from deploy.local.sinks.sms_sink import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN
from tests.support.ingest_process import ROOT, free_port, stop_process

SINK_SID = DEFAULT_ACCOUNT_SID
SINK_TOKEN = DEFAULT_AUTH_TOKEN


@dataclass(frozen=True)
class Sink:
    port: int
    control: str
    log: Path

    def messages(self) -> dict[str, Any]:
        answer: dict[str, Any] = httpx.get(f"{self.control}/messages", timeout=5).json()
        return answer

    def tell(self, **settings: object) -> None:
        """Change the sink's behaviour (`POST /control`); a refusal raises with the sink's
        reason, which names the field."""
        answer = httpx.post(f"{self.control}/control", json=settings, timeout=5)
        if answer.status_code != 200:
            raise ValueError(f"the sink refused {settings}: {answer.text}")

    def reset(self) -> None:
        httpx.delete(f"{self.control}/messages", timeout=5).raise_for_status()


@contextmanager
def sink_process(module: str, args: list[str], health: str, output: Path) -> Iterator[None]:
    with output.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{module} exited: {output.read_text()[-2000:]}")
            try:
                if httpx.get(health, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{module} not ready: {output.read_text()[-2000:]}")
            time.sleep(0.1)
        yield
    finally:
        stop_process(proc)


@contextmanager
def smtp_sink(folder: Path, *extra: str) -> Iterator[Sink]:
    port, control = free_port(), free_port()
    log = folder / "smtp-sink.jsonl"
    args = ["--port", str(port), "--control-port", str(control), "--log", str(log), *extra]
    base = f"http://127.0.0.1:{control}"
    with sink_process("deploy.local.sinks.smtp_sink", args, f"{base}/healthz", folder / "out"):
        yield Sink(port, base, log)


@contextmanager
def sms_sink(folder: Path, *extra: str) -> Iterator[Sink]:
    port = free_port()
    log = folder / "sms-sink.jsonl"
    base = f"http://127.0.0.1:{port}"
    args = ["--port", str(port), "--log", str(log), *extra]
    with sink_process("deploy.local.sinks.sms_sink", args, f"{base}/healthz", folder / "out"):
        yield Sink(port, base, log)
