"""Starts the stack's processes and watches them: readiness, a SIGKILL and restart, a pause
(SIGSTOP / SIGCONT), a graceful stop at the end. Every exit it did not cause is a crash,
recorded with its exit code and the end of its log."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.e2e.harness.layout import ROOT
from tests.e2e.harness.services import SECRET_VARIABLES, ServiceSpec, masterless

LOG_TAIL_LINES = 30
STOP_TIMEOUT_S = 20.0
INHERITED_PREFIXES = ("NUDGE_", "KAFKA_")
"""The caller's settings for these are dropped: the stack's own are given per service."""


@dataclass(frozen=True)
class Exit:
    name: str
    pid: int
    code: int | None
    at: float
    cause: str
    """"crash" (not caused by the harness), "sigkill" (a fault), "stopped" (the end)."""
    log_tail: str = ""


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with path.open("r", errors="replace") as log:
            return "".join(deque(log, maxlen=lines))
    except OSError:
        return ""


def child_env(spec: ServiceSpec) -> dict[str, str]:
    """The caller's environment without its Nudge, Kafka and database settings, plus the
    spec's; the master key's variables left out for the processes holding link keys only."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(INHERITED_PREFIXES) and k != "DATABASE_URL"
    }
    env.update(spec.env)
    if masterless(spec):
        for name in SECRET_VARIABLES:
            env.pop(name, None)
    return env


class Supervisor:
    def __init__(self, specs: list[ServiceSpec], logs_dir: Path) -> None:
        self.specs = {spec.name: spec for spec in specs}
        self.logs_dir = logs_dir
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self.exits: list[Exit] = []
        self._expected: dict[int, str] = {}
        self._watchers: set[asyncio.Task[None]] = set()
        self.starts: dict[str, int] = {}

    def log_path(self, name: str) -> Path:
        return self.logs_dir / f"{name}.log"

    @property
    def crashes(self) -> list[Exit]:
        return [e for e in self.exits if e.cause == "crash"]

    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.processes.items() if proc.returncode is None}

    async def start(self, name: str) -> None:
        spec = self.specs[name]
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path(name).open("ab") as log:
            log.write(f"--- harness: starting {name} at {time.time():.3f}\n".encode())
            log.flush()
            proc = await asyncio.create_subprocess_exec(
                *spec.argv,
                cwd=ROOT,
                env=child_env(spec),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        self.processes[name] = proc
        self.starts[name] = self.starts.get(name, 0) + 1
        task = asyncio.create_task(self._watch(name, proc))
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    async def _watch(self, name: str, proc: asyncio.subprocess.Process) -> None:
        code = await proc.wait()
        cause = self._expected.pop(proc.pid, "crash")
        tail = log_tail(self.log_path(name)) if cause == "crash" else ""
        self.exits.append(Exit(name, proc.pid, code, time.time(), cause, tail))

    async def wait_ready(self, name: str, timeout_s: float = 90.0) -> None:
        """Until its readiness URL answers 200; raises with its log's end when it exits or
        the time is up."""
        spec = self.specs[name]
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(timeout=1.0) as client:
            while time.monotonic() < deadline:
                proc = self.processes[name]
                if proc.returncode is not None:
                    break
                with contextlib.suppress(httpx.HTTPError):
                    if spec.ready_url and (await client.get(spec.ready_url)).status_code == 200:
                        return
                await asyncio.sleep(0.2)
        raise RuntimeError(
            f"{name} did not become ready; its log ends:\n{log_tail(self.log_path(name))}"
        )

    async def start_all(self, timeout_s: float = 120.0) -> None:
        for name in self.specs:
            await self.start(name)
        await asyncio.gather(*(self.wait_ready(name, timeout_s) for name in self.specs))

    async def _end(self, name: str, sig: signal.Signals, cause: str, timeout_s: float) -> int:
        proc = self.processes[name]
        if proc.returncode is not None:
            return proc.returncode
        self._expected[proc.pid] = cause
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)
            if sig is not signal.SIGKILL:
                os.kill(proc.pid, signal.SIGCONT)  # a paused process must see its SIGTERM
        try:
            return await asyncio.wait_for(proc.wait(), timeout_s)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            return await proc.wait()

    async def kill_and_restart(self, name: str) -> None:
        """SIGKILL, as a machine losing the process would, then start it again and wait
        until it is ready."""
        await self._end(name, signal.SIGKILL, "sigkill", 10.0)
        await self.start(name)
        await self.wait_ready(name)

    def pause(self, name: str) -> None:
        os.kill(self.processes[name].pid, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        os.kill(self.processes[name].pid, signal.SIGCONT)

    async def stop(self, name: str) -> int:
        """SIGTERM one service, given STOP_TIMEOUT_S before a SIGKILL; its exit status."""
        return await self._end(name, signal.SIGTERM, "stopped", STOP_TIMEOUT_S)

    async def stop_all(self) -> None:
        """SIGTERM in the reverse order of the start (services before the sinks they send
        to), each given STOP_TIMEOUT_S before a SIGKILL."""
        for name in reversed(list(self.processes)):
            await self._end(name, signal.SIGTERM, "stopped", STOP_TIMEOUT_S)
        await asyncio.gather(*self._watchers, return_exceptions=True)
