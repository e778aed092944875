"""Type-checked reads from untrusted JSON that remember where they are.

Every read either returns a value of the expected type or raises `MappingError` naming the
dotted path of the offending field, so no `KeyError`/`TypeError` can escape an adapter and
every refusal tells the sender what to fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal, InvalidOperation

from services.ingest.adapters.errors import MappingError
from shared.events.types import check_amount

ROOT = "$"
"""How errors name the payload itself (e.g. when it is not an object at all)."""


class Node:
    """A JSON value with its dotted path from the payload's root."""

    __slots__ = ("path", "value")

    def __init__(self, value: object, path: str = "") -> None:
        self.value = value
        self.path = path

    def field(self, key: str | int) -> str:
        """The dotted path of a child of this node."""
        return f"{self.path}.{key}" if self.path else str(key)

    def _fail(self, key: str, reason: str) -> MappingError:
        return MappingError(self.field(key), reason)

    def raw(self, key: str) -> object:
        """The child's value, None when absent; this node must be an object."""
        if not isinstance(self.value, dict):
            raise MappingError(self.path or ROOT, "expected an object")
        return self.value.get(key)

    def present(self, key: str) -> bool:
        return self.raw(key) not in (None, "")

    def child(self, key: str) -> Node:
        return Node(self.raw(key), self.field(key))

    def obj(self, key: str) -> Node:
        node = self.opt_obj(key)
        if node is None:
            raise self._fail(key, "required object is missing")
        return node

    def opt_obj(self, key: str) -> Node | None:
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self._fail(key, "expected an object")
        return Node(value, self.field(key))

    def items(self, key: str) -> list[Node]:
        """The elements of an array, [] when absent or null."""
        value = self.raw(key)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._fail(key, "expected an array")
        path = self.field(key)
        return [Node(item, f"{path}.{index}") for index, item in enumerate(value)]

    def objects(self, key: str) -> Iterator[Node]:
        """The elements of an array of objects."""
        for item in self.items(key):
            if not isinstance(item.value, dict):
                raise MappingError(item.path, "expected an object")
            yield item

    def text(self, key: str) -> str:
        value = self.opt_text(key)
        if value is None:
            raise self._fail(key, "required text is missing")
        return value

    def opt_text(self, key: str) -> str | None:
        """A string, None when absent, null or blank (platforms send "" for unknown)."""
        value = self.raw(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._fail(key, "expected a string")
        return value.strip() or None

    def ident(self, key: str) -> str:
        value = self.opt_ident(key)
        if value is None:
            raise self._fail(key, "required id is missing")
        return value

    def opt_ident(self, key: str) -> str | None:
        """An id sent as a JSON integer or string, kept exact as text."""
        value = self.raw(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self._fail(key, "expected an id (integer or string)")
        return str(value).strip() or None

    def amount(self, key: str) -> Decimal:
        value = self.opt_amount(key)
        if value is None:
            raise self._fail(key, "required amount is missing")
        return value

    def opt_amount(self, key: str) -> Decimal | None:
        """A decimal amount sent as a string ("19.99", Shopify) or a number (Segment), in the
        range of money Nudge accepts (shared/events/types.py, MONEY_RANGE)."""
        value = self.raw(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise self._fail(key, "expected a decimal amount")
        try:
            amount = Decimal(str(value).strip())
        except InvalidOperation:
            raise self._fail(key, f"{value!r} is not a decimal amount") from None
        try:
            return check_amount(amount)  # before anything sums it
        except ValueError as exc:
            raise self._fail(key, str(exc)) from None

    def opt_time(self, key: str) -> str | None:
        """An ISO 8601 timestamp, left as text for the event model to parse and check."""
        value = self.opt_text(key)
        if value is not None:
            try:
                datetime.fromisoformat(value)
            except ValueError:
                raise self._fail(key, f"{value!r} is not an ISO 8601 timestamp") from None
        return value
