"""`nudge tail`'s filters: by shop, by customer, by event type.

Every topic is keyed `shop_id:customer_id` (`shop_id:anon:visitor_id` before a visitor is
known; shared/topics.CUSTOMER_KEY), dead-letter topics by their source record's key. So shop
and customer are decided on the key bytes, and a record that fails them is skipped without
its value being parsed. Only a record without a usable key falls back to its envelope
(`shopid`, `customerid`, `anonymousid`; for a dead letter, the `key` it recorded or its
payload's envelope). The type is the envelope's `type` (a dead letter's payload's), matched
as a shell-style glob (`order.*`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from fnmatch import fnmatchcase
from typing import Any, Final

from services.analyst.errors import BadOption
from shared.topics import DEAD_LETTER_TOPIC_NAMES

SHOP_ID: Final = re.compile(r"[a-z0-9][a-z0-9_-]{1,62}")
"""shared/events/types.ShopId's rule."""
TYPE_GLOB: Final = re.compile(r"[A-Za-z0-9_.*?\[\]!-]{1,100}")
MAX_CUSTOMER_ID: Final = 255 + len("anon:")
ANON: Final = "anon:"


class KeyVerdict(Enum):
    """What the key alone says about shop and customer."""

    REJECT = "reject"
    ACCEPT = "accept"
    UNDECIDED = "undecided"
    """No key, or not a `shop:customer` key: the envelope decides."""


@dataclass(frozen=True)
class RecordFilter:
    """Each set that is given must match (any of its values); an empty one matches all."""

    shops: frozenset[str] = frozenset()
    customers: frozenset[str] = frozenset()
    """Customer ids as they appear in keys: the id, or `anon:<visitor id>`."""
    types: tuple[str, ...] = ()
    """Globs over the envelope's `type`."""

    @property
    def by_key(self) -> bool:
        return bool(self.shops or self.customers)

    @property
    def needs_value(self) -> bool:
        """Whether a record whose key passed still needs its value parsed."""
        return bool(self.types)

    def key_verdict(self, key: bytes | None) -> KeyVerdict:
        if not self.by_key:
            return KeyVerdict.ACCEPT
        if not key:
            return KeyVerdict.UNDECIDED
        shop, sep, customer = key.partition(b":")
        if not sep:
            return KeyVerdict.UNDECIDED
        try:
            ok = self._people_match(shop.decode(), customer.decode())
        except UnicodeDecodeError:
            return KeyVerdict.UNDECIDED
        return KeyVerdict.ACCEPT if ok else KeyVerdict.REJECT

    def value_matches(self, topic: str, value: Any, verdict: KeyVerdict) -> bool:
        """The rest of the decision, on the parsed value (None when it is not JSON)."""
        envelope = envelope_of(topic, value)
        if verdict is KeyVerdict.UNDECIDED and not self._envelope_people_match(topic, value):
            return False
        if not self.types:
            return True
        kind = envelope.get("type") if envelope is not None else None
        return isinstance(kind, str) and any(fnmatchcase(kind, glob) for glob in self.types)

    def _people_match(self, shop: str, customer: str) -> bool:
        return (not self.shops or shop in self.shops) and (
            not self.customers or customer in self.customers
        )

    def _envelope_people_match(self, topic: str, value: Any) -> bool:
        if isinstance(value, Mapping) and topic in DEAD_LETTER_TOPIC_NAMES:
            recorded = value.get("key")
            if isinstance(recorded, str) and ":" in recorded:
                recorded_shop, _, recorded_customer = recorded.partition(":")
                return self._people_match(recorded_shop, recorded_customer)
        envelope = envelope_of(topic, value)
        if envelope is None:
            return False
        shop, customer, anonymous = (
            envelope.get(k) for k in ("shopid", "customerid", "anonymousid")
        )
        if not isinstance(shop, str):
            return False
        if isinstance(customer, str):
            return self._people_match(shop, customer)
        if isinstance(anonymous, str):
            return self._people_match(shop, f"{ANON}{anonymous}")
        return not self.customers and (not self.shops or shop in self.shops)


def envelope_of(topic: str, value: Any) -> Mapping[str, Any] | None:
    """The event envelope a record value carries: the value itself, or for a dead letter the
    payload it parked (when that was JSON text)."""
    if not isinstance(value, Mapping):
        return None
    if topic not in DEAD_LETTER_TOPIC_NAMES:
        return value
    payload = value.get("payload")
    if value.get("payload_encoding", "utf-8") != "utf-8" or not isinstance(payload, str):
        return None
    try:
        parked = json.loads(payload)
    except ValueError:
        return None
    return parked if isinstance(parked, Mapping) else None


def build_filter(
    shops: Iterable[str] = (), customers: Iterable[str] = (), types: Iterable[str] = ()
) -> RecordFilter:
    """Check what was typed; raises BadOption naming `--shop`, `--customer` or `--type`."""
    for shop in shops:
        if not SHOP_ID.fullmatch(shop):
            raise BadOption(
                "--shop",
                f"{shop!r} is not a shop id (2 to 63 lower-case letters, digits, '-' and '_', "
                "starting with a letter or digit)",
            )
    for customer in customers:
        if not customer or customer != customer.strip() or len(customer) > MAX_CUSTOMER_ID:
            raise BadOption(
                "--customer",
                f"{customer!r} is not a customer id (1 to 255 characters without surrounding "
                "spaces; `anon:<id>` for a visitor not yet identified)",
            )
    for glob in types:
        if not TYPE_GLOB.fullmatch(glob):
            raise BadOption(
                "--type",
                f"{glob!r} is not an event type or a glob of one (letters, digits, '.', '_', "
                "'-' and the wildcards * ? [...]), e.g. order.placed or order.*",
            )
    return RecordFilter(frozenset(shops), frozenset(customers), tuple(dict.fromkeys(types)))
