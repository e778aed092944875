"""Driving vegeta, the HTTP load generator, and reading its reports.

vegeta is a Go program: the client does not eat the Python interpreter's CPU budget, and at a
fixed rate it sends on schedule whatever the server's latency (an open model), so its latency
figures are free of coordinated omission.
"""

from __future__ import annotations

import base64
import os
import re
import resource
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[2]
NS_PER_MS = 1_000_000
LOCAL_PORT = re.compile(r"127\.0\.0\.1:\d+")
"""Masked in error texts: one cause on a thousand connections is one error, not a thousand."""


def vegeta_binary() -> str:
    """$NUDGE_BENCH_VEGETA, else the copy `make bench-tools` installs, else one on PATH."""
    candidates = [os.environ.get("NUDGE_BENCH_VEGETA"), str(ROOT / ".cache" / "bin" / "vegeta")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    found = shutil.which("vegeta")
    if found is None:
        raise SystemExit("vegeta not found: run `make bench-tools` (or `make bench`)")
    return found


@dataclass(frozen=True)
class Report:
    """The figures of one attack, as `vegeta report -type=json` gives them."""

    requests: int
    rate: float
    """Requests per second sent."""
    throughput: float
    """Successful requests per second, over the time until the last answer."""
    success: float
    duration_s: float
    status_codes: dict[str, int]
    errors: list[str]
    """Distinct error texts, local ports masked."""
    latency_ms: dict[str, float]
    """p50, p90, p99, max and mean, in milliseconds."""

    @property
    def failed(self) -> int:
        """Requests that did not get a 2xx answer (status 0 means no answer at all)."""
        return sum(n for code, n in self.status_codes.items() if not code.startswith("2"))

    @classmethod
    def parse(cls, raw: dict[str, Any]) -> Report:
        lat = raw["latencies"]
        return cls(
            requests=int(raw["requests"]),
            rate=float(raw["rate"]),
            throughput=float(raw["throughput"]),
            success=float(raw["success"]),
            duration_s=(raw["duration"] + raw["wait"]) / 1e9,
            status_codes={str(k): int(v) for k, v in (raw.get("status_codes") or {}).items()},
            errors=sorted({LOCAL_PORT.sub("127.0.0.1:*", e) for e in raw.get("errors") or []}),
            latency_ms={
                name: lat[key] / NS_PER_MS
                for name, key in (
                    ("p50", "50th"),
                    ("p90", "90th"),
                    ("p99", "99th"),
                    ("max", "max"),
                    ("mean", "mean"),
                )
            },
        )


NO_TARGETS = "no targets to attack"
"""The error vegeta records once the (lazy) targets file runs out: the end, not a request."""

CountAnswer = Callable[[int, Any], int]
"""Given a status code and the parsed JSON body, how many events the answer accepted."""


@dataclass(frozen=True)
class Attack:
    """One vegeta run: its report, the CPU seconds vegeta used, events ingest accepted."""

    report: Report
    cpu_s: float
    accepted_events: int


def attack(
    targets: Path,
    *,
    rate: int,
    max_workers: int | None,
    max_duration_s: float,
    request_timeout_s: float,
    count_answer: CountAnswer,
) -> Attack:
    """Replay `targets` once (`-lazy`: stops when the file runs out), `rate` 0 = flat out.

    `max_duration_s` bounds the run should targets outlast it; the figures cover what was
    sent. A request unanswered after `request_timeout_s` counts as failed (status 0). The raw
    results are deleted once read.
    """
    results = targets.with_suffix(".bin")
    cmd = [
        vegeta_binary(),
        "attack",
        "-format=json",
        "-lazy",
        f"-targets={targets}",
        f"-output={results}",
        f"-rate={rate}/s" if rate else "-rate=0",
        f"-duration={max_duration_s:.0f}s",
        f"-timeout={request_timeout_s:g}s",
        "-keepalive=true",
        "-http2=false",
    ]
    if max_workers is not None:
        cmd += [f"-workers={max_workers}", f"-max-workers={max_workers}"]
    before = _children_cpu_s()
    subprocess.run(cmd, check=True)
    cpu_s = _children_cpu_s() - before
    requests = results.with_suffix(".json")
    try:
        accepted = _without_end_marker(results, requests, count_answer)
        return Attack(report(requests), cpu_s, accepted)
    finally:
        results.unlink(missing_ok=True)
        requests.unlink(missing_ok=True)


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _without_end_marker(results: Path, out: Path, count_answer: CountAnswer) -> int:
    """Copy the results as JSON lines minus the end-of-targets marker (so that it counts
    neither as a request nor as a failure), and count the accepted events on the way."""
    proc = subprocess.Popen(
        [vegeta_binary(), "encode", "-to=json", str(results)], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    accepted = 0
    with out.open("wb") as kept:
        for line in proc.stdout:
            result = orjson.loads(line)
            if result.get("error") == NO_TARGETS:
                continue
            accepted += count_answer(int(result["code"]), _json_body(result.get("body")))
            result["body"] = ""
            kept.write(orjson.dumps(result) + b"\n")
    if proc.wait() != 0:
        raise RuntimeError(f"vegeta encode failed on {results}")
    return accepted


def _json_body(encoded: str | None) -> Any:
    body = base64.b64decode(encoded or "")
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None


def report(results: Path) -> Report:
    out = subprocess.run(
        [vegeta_binary(), "report", "-type=json", str(results)],
        check=True,
        capture_output=True,
    ).stdout
    return Report.parse(orjson.loads(out))
