"""Editing JSON payloads by dotted path, and the junk values the adapters must survive."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

DELETE = object()
"""As a value in `patched`'s changes: remove the key."""

JUNK: tuple[object, ...] = (None, "", "junk", -1, 1.5, True, [], {}, ["junk"], {"junk": 1})
"""One value of every JSON type, to put where a payload expects something else."""


def patched(payload: dict[str, Any], changes: dict[str, object]) -> dict[str, Any]:
    """A deep copy with each dotted path set to its value (DELETE removes the key)."""
    result = copy.deepcopy(payload)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        target: Any = result
        for part in parents:
            target = target[int(part)] if isinstance(target, list) else target[part]
        key: Any = int(last) if isinstance(target, list) else last
        if value is DELETE:
            del target[key]
        else:
            target[key] = value
    return result


def json_paths(value: object, prefix: str = "") -> Iterator[str]:
    """The dotted path of every value inside `value`, parents before children."""
    yield from leaves(value, prefix)


def leaves(value: object, prefix: str = "") -> dict[str, object]:
    """Every path inside `value` (parents before children) with the value found there."""
    found: dict[str, object] = {}
    children: list[tuple[str, object]] = []
    if isinstance(value, dict):
        children = [(str(key), child) for key, child in value.items()]
    elif isinstance(value, list):
        children = [(str(index), child) for index, child in enumerate(value)]
    for key, child in children:
        path = f"{prefix}.{key}" if prefix else key
        found[path] = child
        found.update(leaves(child, path))
    return found
