"""A local HTTP CONNECT proxy (proxy.py, run as its own process) for the provider tests:
optional basic auth, every upstream name resolved to 127.0.0.1 (tests/support/proxy_plugin.py),
an access log to tell which tunnels it opened."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.ingest_process import ROOT, stop_process


@dataclass(frozen=True)
class ConnectProxy:
    port: int
    log: Path

    def url(self, credentials: str | None = None) -> str:
        return f"http://{credentials + '@' if credentials else ''}127.0.0.1:{self.port}"

    def tunnels(self) -> list[str]:
        """The CONNECT targets (host:port) the proxy opened so far."""
        return [
            line.split("CONNECT ", 1)[1].split()[0]
            for line in self.log.read_text().splitlines()
            if "CONNECT " in line
        ]

    def tunnels_after(self, seen: int, *, timeout_s: float = 5.0) -> list[str]:
        """The tunnels logged after the first `seen`, once there is at least one: proxy.py
        writes a tunnel's access-log line when the tunnel closes, which may come a moment
        after the client got its answer."""
        deadline = time.monotonic() + timeout_s
        while len(tunnels := self.tunnels()) <= seen and time.monotonic() < deadline:
            time.sleep(0.05)
        return tunnels[seen:]


@contextmanager
def connect_proxy(folder: Path, *, basic_auth: str | None = None) -> Iterator[ConnectProxy]:
    """proxy.py on a free loopback port; `basic_auth` is "user:password" to require."""
    folder.mkdir(parents=True, exist_ok=True)
    port_file, log = folder / "port", folder / "proxy.log"
    args = [
        sys.executable, "-m", "proxy",
        "--hostname", "127.0.0.1", "--port", "0", "--port-file", str(port_file),
        "--num-acceptors", "1", "--num-workers", "1",
        "--plugins", "tests.support.proxy_plugin.LoopbackUpstream",
        "--log-file", str(log), "--log-level", "INFO",
    ]  # fmt: skip
    if basic_auth is not None:
        args += ["--basic-auth", basic_auth]
    with (folder / "out").open("ab") as out:
        proc = subprocess.Popen(args, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None:
                raise RuntimeError(f"proxy.py exited: {(folder / 'out').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError("proxy.py did not write its port")
            time.sleep(0.05)
        yield ConnectProxy(int(port_file.read_text().split()[0]), log)
    finally:
        stop_process(proc)
