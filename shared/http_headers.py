"""HTTP/1.1 header lines written by hand, for our own lean client and the local sinks' server
(both write a whole message in one go rather than through a framework)."""

from __future__ import annotations

from collections.abc import Mapping


def header_lines(headers: Mapping[str, str]) -> str:
    """`Name: value\\r\\n` for each header. A name with ':', spaces or line breaks, or a value
    with a line break, is a ValueError: such a header could smuggle another one in."""
    lines = []
    for name, value in headers.items():
        if not name.isascii() or any(c in name for c in ":\r\n ") or "\r" in value or "\n" in value:
            raise ValueError(
                f"header {name!r}: a name without ':', spaces or line breaks, a value on one line"
            )
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines)
