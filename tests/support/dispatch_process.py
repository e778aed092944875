"""Dispatch as SREs run it (`python -m services.dispatch`), with the real local sinks.

The SMTP sink (aiosmtpd) and the SMS sink (Twilio's API shape) run as their own processes;
tests read what arrived through their `/messages` pages and steer them through `/control`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from deploy.local.sinks.sms_sink import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN
from tests.support.ingest_process import ROOT, TEST_SECRET_KEY, free_port


def _start(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )


def _wait_http(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited: {log_path.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready in {timeout}s: {log_path.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes] | None, sig: signal.Signals = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Sinks:
    """The SMTP and SMS sinks, on free ports."""

    def __init__(self, logs: Path) -> None:
        self.smtp_port, self.smtp_control = free_port(), free_port()
        self.sms_port = free_port()
        self.logs = logs
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        env = dict(os.environ)
        smtp = _start(
            [
                "-m",
                "deploy.local.sinks.smtp_sink",
                "--port",
                str(self.smtp_port),
                "--control-port",
                str(self.smtp_control),
            ],
            env,
            self.logs / "smtp-sink.log",
        )
        sms = _start(
            ["-m", "deploy.local.sinks.sms_sink", "--port", str(self.sms_port)],
            env,
            self.logs / "sms-sink.log",
        )
        self._procs = [smtp, sms]
        _wait_http(f"{self.smtp_url}/healthz", smtp, self.logs / "smtp-sink.log", 30)
        _wait_http(f"{self.sms_url}/healthz", sms, self.logs / "sms-sink.log", 30)

    @property
    def smtp_url(self) -> str:
        return f"http://127.0.0.1:{self.smtp_control}"

    @property
    def sms_url(self) -> str:
        return f"http://127.0.0.1:{self.sms_port}"

    def emails(self) -> dict[str, Any]:
        result: dict[str, Any] = httpx.get(f"{self.smtp_url}/messages", timeout=5).json()
        return result

    def texts(self) -> dict[str, Any]:
        result: dict[str, Any] = httpx.get(f"{self.sms_url}/messages", timeout=5).json()
        return result

    def control_smtp(self, **settings: Any) -> None:
        httpx.post(f"{self.smtp_url}/control", json=settings, timeout=5).raise_for_status()

    def control_sms(self, **settings: Any) -> None:
        httpx.post(f"{self.sms_url}/control", json=settings, timeout=5).raise_for_status()

    def env(self) -> dict[str, str]:
        return {
            "NUDGE_SMTP_HOST": "127.0.0.1",
            "NUDGE_SMTP_PORT": str(self.smtp_port),
            "NUDGE_TWILIO_BASE_URL": self.sms_url,
            "NUDGE_TWILIO_ACCOUNT_SID": DEFAULT_ACCOUNT_SID,
            "NUDGE_TWILIO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN,
            "NUDGE_TWILIO_FROM_NUMBER": "+15005550006",
        }

    def stop(self) -> None:
        for proc in self._procs:
            _stop(proc)


class DispatchProcess:
    def __init__(
        self, kafka: str, database_url: str, sinks: Sinks, log_path: Path, **settings: str
    ) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.env = {
            **os.environ,
            **sinks.env(),
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            "DATABASE_URL": database_url,
            "NUDGE_SECRET_KEY": TEST_SECRET_KEY,
            "NUDGE_DISPATCH_PORT": str(self.port),
            "NUDGE_DISPATCH_GROUP_ID": f"test-dispatch-{time.time_ns()}",
            "NUDGE_DISPATCH_START_FROM": "latest",
            "NUDGE_DISPATCH_POLL_INTERVAL_S": "0.1",
            "NUDGE_DISPATCH_CONTACT_WAIT_S": "20",
            "NUDGE_DISPATCH_DEFAULT_SHOP_URL": "https://{shop_id}.example",
            **{f"NUDGE_DISPATCH_{k.upper()}": v for k, v in settings.items()},
        }
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc = _start(["-m", "services.dispatch"], self.env, self.log_path)
        url = f"http://127.0.0.1:{self.port}/readyz"
        _wait_http(url, self._proc, self.log_path, 60)

    def stop(self) -> None:
        _stop(self._proc)

    def kill(self) -> None:
        _stop(self._proc, signal.SIGKILL)


def wait_until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.3)
