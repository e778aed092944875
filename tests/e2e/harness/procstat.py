"""A process's CPU time and memory read from /proc (psutil is not a dependency).

Parsing is pure (the file's text in, numbers out); `sample` reads the files of a process and of
its live descendants, so that a service that forks workers is counted whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PROC = Path("/proc")


@dataclass(frozen=True)
class StatTimes:
    ppid: int
    user_ticks: int
    system_ticks: int
    children_user_ticks: int
    children_system_ticks: int

    def cpu_s(self, ticks_per_s: int = CLOCK_TICKS) -> float:
        """Its own CPU time and that of the children it waited for."""
        total = (
            self.user_ticks
            + self.system_ticks
            + self.children_user_ticks
            + self.children_system_ticks
        )
        return total / ticks_per_s


def parse_stat(text: str) -> StatTimes:
    """`/proc/<pid>/stat`: fields after the command name (which may hold spaces and
    parentheses, so the text is split at its last ')')."""
    rest = text[text.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state): ppid is field 4, utime..cstime fields 14-17.
    return StatTimes(
        ppid=int(rest[1]),
        user_ticks=int(rest[11]),
        system_ticks=int(rest[12]),
        children_user_ticks=int(rest[13]),
        children_system_ticks=int(rest[14]),
    )


@dataclass(frozen=True)
class Memory:
    rss_kb: int
    peak_rss_kb: int


def parse_status(text: str) -> Memory:
    """VmRSS and VmHWM (the peak resident set) of `/proc/<pid>/status`, in kB."""
    found: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return Memory(found.get("VmRSS", 0), found.get("VmHWM", 0))


def descendants(root: int, parents: dict[int, int]) -> list[int]:
    """`root` and every pid below it, from a pid -> parent pid map."""
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


@dataclass(frozen=True)
class Usage:
    cpu_s: float
    rss_kb: int
    peak_rss_kb: int


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _all_parents() -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        text = _read(entry / "stat")
        if text is not None:
            parents[int(entry.name)] = parse_stat(text).ppid
    return parents


def sample(roots: Iterable[int]) -> dict[int, Usage]:
    """Per root pid, the CPU seconds and memory of it and its live descendants (the peak is
    the largest single process's, as processes peak at different moments)."""
    parents = _all_parents()
    usage: dict[int, Usage] = {}
    for root in roots:
        cpu, rss, peak = 0.0, 0, 0
        for pid in descendants(root, parents) if root in parents else []:
            stat, status = _read(PROC / str(pid) / "stat"), _read(PROC / str(pid) / "status")
            if stat is None or status is None:
                continue
            memory = parse_status(status)
            cpu += parse_stat(stat).cpu_s()
            rss += memory.rss_kb
            peak = max(peak, memory.peak_rss_kb)
        usage[root] = Usage(cpu, rss, peak)
    return usage
