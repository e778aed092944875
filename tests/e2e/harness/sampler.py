"""Once a second: consumer lag per group, each service's CPU seconds and memory, and how
many copies each sink logged, appended to the run folder's metrics.jsonl and kept for the
figures."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from tests.e2e.harness import procstat
from tests.e2e.harness.lag import LagProbe, Offsets


class LineCounter:
    """Lines appended to a file so far, read incrementally (sink logs grow to many MB)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self.count = 0

    def update(self) -> int:
        try:
            with self.path.open("rb") as f:
                f.seek(self._offset)
                chunk = f.read()
        except OSError:
            return self.count
        complete = chunk.rfind(b"\n") + 1
        self.count += chunk.count(b"\n", 0, complete)
        self._offset += complete
        return self.count


@dataclass
class Sample:
    at: float
    lag: dict[str, int] | None
    """Group -> lag; None when the broker did not answer."""
    usage: dict[str, procstat.Usage]
    sinks: dict[str, int]

    def as_json(self) -> dict[str, object]:
        return {
            "at": round(self.at, 3),
            "lag": self.lag,
            "usage": {
                name: {"cpu_s": round(u.cpu_s, 3), "rss_kb": u.rss_kb, "peak_rss_kb": u.peak_rss_kb}
                for name, u in self.usage.items()
            },
            "sinks": self.sinks,
        }


@dataclass
class Totals:
    """Per service, CPU seconds used by the processes that have ended (a killed service's
    CPU is not lost when its new process starts from zero) and the highest peak RSS seen."""

    ended_cpu_s: dict[str, float] = field(default_factory=dict)
    last: dict[str, tuple[int, procstat.Usage]] = field(default_factory=dict)
    peak_rss_kb: dict[str, int] = field(default_factory=dict)

    def add(self, pids: Mapping[str, int], usage: Mapping[int, procstat.Usage]) -> None:
        for name, pid in pids.items():
            found = usage.get(pid)
            if found is None:
                continue
            previous = self.last.get(name)
            if previous is not None and previous[0] != pid:
                self.ended_cpu_s[name] = self.ended_cpu_s.get(name, 0.0) + previous[1].cpu_s
            self.last[name] = (pid, found)
            self.peak_rss_kb[name] = max(self.peak_rss_kb.get(name, 0), found.peak_rss_kb)

    def cpu_s(self) -> dict[str, float]:
        return {
            name: self.ended_cpu_s.get(name, 0.0) + usage.cpu_s
            for name, (_pid, usage) in self.last.items()
        }


class Sampler:
    def __init__(
        self,
        bootstrap: str,
        out: Path,
        pids: Callable[[], Mapping[str, int]],
        sinks: Mapping[str, Path],
        interval_s: float = 1.0,
    ) -> None:
        self.probe = LagProbe(bootstrap)
        self.out = out
        self.pids = pids
        self.counters = {name: LineCounter(path) for name, path in sinks.items()}
        self.interval_s = interval_s
        self.samples: list[Sample] = []
        self.totals = Totals()
        self._task: asyncio.Task[None] | None = None
        self._pending: asyncio.Future[dict[str, int]] | None = None

    def lag_series(self) -> list[tuple[float, int]]:
        """(time, total lag of every group) for the samples the broker answered."""
        return [(s.at, sum(s.lag.values())) for s in self.samples if s.lag is not None]

    def last_offsets(self) -> tuple[dict[str, dict[tuple[str, int], int]], Offsets] | None:
        """(group -> committed offsets, end offsets) of the broker's last answer."""
        return self.probe.last_offsets

    def last_lag(self) -> dict[str, int] | None:
        for s in reversed(self.samples):
            if s.lag is not None:
                return s.lag
        return None

    async def sample_once(self) -> Sample:
        at = time.time()
        pids = dict(self.pids())
        if self._pending is None or self._pending.done():
            # One question at a time: an admin call outliving its timeout (a broker that is
            # down) is waited for, not doubled.
            self._pending = asyncio.ensure_future(asyncio.to_thread(self.probe.lags))
        try:
            lag: dict[str, int] | None = await asyncio.wait_for(asyncio.shield(self._pending), 5.0)
        except Exception:
            lag = None
        usage = procstat.sample(pids.values())
        self.totals.add(pids, usage)
        sample = Sample(
            at,
            lag,
            {name: usage[pid] for name, pid in pids.items() if pid in usage},
            {name: c.update() for name, c in self.counters.items()},
        )
        self.samples.append(sample)
        with self.out.open("ab") as f:
            f.write(orjson.dumps(sample.as_json()) + b"\n")
        return sample

    async def _loop(self) -> None:
        while True:
            started = time.monotonic()
            await self.sample_once()
            await asyncio.sleep(max(0.0, self.interval_s - (time.monotonic() - started)))

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._pending is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._pending), 10.0)
        await asyncio.to_thread(self.probe.close)
