"""Hypothesis strategies that mutate a valid JSON payload field by field with hostile values.

Each field gets values hostile to what it holds: a time gets the calendar's ends with offsets, an
amount huge exponents, an id integers beyond 64 bits, text NUL characters and great lengths; any
field may also get a value of the wrong JSON type or be deleted. Fields of those kinds are
picked more often than the rest, which is where the classes of bad input live.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from hypothesis import strategies as st

from tests.support.json_mutation import DELETE, leaves, patched

_AMOUNT = re.compile(r"^-?\d+(\.\d+)?$")

HOSTILE_TIMES: tuple[object, ...] = (
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59.999999+14:00",
    "1969-12-31T23:59:59Z",
    "3000-01-01T00:00:00Z",
    "2026-11-23T10:15:00",  # no offset
    "2026-02-30T00:00:00Z",
    "",
)
HOSTILE_AMOUNTS: tuple[object, ...] = (
    "1e1000000",
    "-1e1000000",
    "1e-1000000",
    "0E+1000000",
    "9" * 40,
    "0.0000001",
    "NaN",
    "-Infinity",
    1e308,
    -0.0,
    2**70,
)
HOSTILE_IDS: tuple[object, ...] = (
    2**64,
    2**200,
    -(2**63) - 1,
    0,
    "a\x00b",
    "",
    " " * 10,
    "x" * 300,
    True,
)
HOSTILE_TEXT: tuple[object, ...] = ("\x00", "a\x00b", "x" * 70_000, "\u202e\ufeff", "🛒" * 300)
WRONG_TYPES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    st.just([[[[[[[[[[[]]]]]]]]]]]),
)


def kind_of(path: str, value: object) -> str:
    """time, amount, id, text or other: what the field at `path` holds."""
    key = path.rsplit(".", 1)[-1]
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value.replace("Z", "+00:00"))
            return "time"
        except ValueError:
            pass
        if _AMOUNT.match(value) and not key.lower().endswith("id"):
            return "amount"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return "id" if isinstance(value, int) and key.lower().endswith("id") else "amount"
    if key.lower().endswith("id") or key in ("userId", "anonymousId"):
        return "id"
    if isinstance(value, str):
        return "text"
    return "other"


_HOSTILE = {
    "time": st.sampled_from(HOSTILE_TIMES),
    "amount": st.sampled_from(HOSTILE_AMOUNTS),
    "id": st.sampled_from(HOSTILE_IDS),
    "text": st.sampled_from(HOSTILE_TEXT),
}


def _change(path: str, value: object) -> st.SearchStrategy[tuple[str, object]]:
    hostile = _HOSTILE.get(kind_of(path, value))
    choices = [WRONG_TYPES, st.just(DELETE)]
    if hostile is not None:
        choices = [hostile, hostile, hostile, *choices]  # mostly what is hostile to the kind
    return st.tuples(st.just(path), st.one_of(*choices))


def mutations(payload: Any) -> st.SearchStrategy[Any]:
    """`payload` with one to three of its fields replaced by hostile values or deleted."""
    fields = leaves(payload)
    telling = [path for path, value in fields.items() if kind_of(path, value) != "other"]
    paths = sorted(fields) + telling * 3  # fields of a telling kind are picked more often
    change = st.sampled_from(paths).flatmap(lambda path: _change(path, fields[path]))

    def apply(changes: list[tuple[str, object]]) -> Any:
        result = payload
        for path, value in changes:
            try:
                result = patched(result, {path: value})
            except (KeyError, IndexError, TypeError, ValueError):  # an earlier change moved it
                continue
        return result

    return st.lists(change, min_size=1, max_size=3).map(apply)
