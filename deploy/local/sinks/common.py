"""What both sinks share: the JSON-lines record file and running until a signal."""

from __future__ import annotations

import asyncio
import signal
import threading
from pathlib import Path
from typing import IO, Any

import orjson


class JsonLinesLog:
    """Appends one JSON object per line (compact UTF-8), flushed at once so that a reader
    sees it.

    Thread-safe: the SMTP sink writes from aiosmtpd's thread.
    """

    def __init__(self, path: Path | None) -> None:
        self._lock = threading.Lock()
        self._file: IO[bytes] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("ab")

    @property
    def enabled(self) -> bool:
        return self._file is not None

    def write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            return
        line = orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
        with self._lock:
            self._file.write(line)
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


async def until_signalled() -> None:
    """Return on SIGTERM or SIGINT, so that `finally` blocks close servers and files."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
