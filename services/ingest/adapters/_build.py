"""Building event models from payload values, with errors that name the payload's fields.

Pydantic reports errors against the *model's* field names (`data.items.0.price`); a shop's
developer needs the *payload's* (`line_items.0.price`). Every model is therefore built here
with a map from model field to payload path, and `ValidationError` becomes `MappingError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from services.ingest.adapters._payload import ROOT, Node
from services.ingest.adapters.errors import MappingError
from shared.events.envelope import EventEnvelope
from shared.events.types import Money

M = TypeVar("M", bound=BaseModel)
E = TypeVar("E", bound=EventEnvelope)
T = TypeVar("T")


def build(model: type[M], fields: Mapping[str, str], /, **values: Any) -> M:
    """Validate `values` as `model`; `fields` maps model fields to payload paths.

    The key "" names the payload path blamed for whole-model checks (e.g. mixed currencies).
    """
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = error["loc"]
        if loc:
            field = fields.get(str(loc[0])) or ".".join(map(str, loc))
        else:
            field = fields.get("") or ROOT
        more = exc.error_count() - 1
        reason = error["msg"] + (f" (and {more} more)" if more else "")
        raise MappingError(field, reason) from None


def valid_or_none(adapter: TypeAdapter[T], value: str | None) -> T | None:
    """The value if it passes `adapter`, else None.

    For optional enrichments (a phone, a locale, a link): a bad one must not cost the event.
    """
    if value is None:
        return None
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None


def money(amount: Decimal, currency: str | None, amount_field: str, currency_field: str) -> Money:
    if currency is None:
        raise MappingError(currency_field, f"a currency is required for {amount_field}")
    return build(
        Money,
        {"amount": amount_field, "currency": currency_field},
        amount=amount,
        currency=currency,
    )


@dataclass(frozen=True, slots=True)
class When:
    """The event's time and the payload field it came from."""

    value: str | datetime
    field: str


def first_time(node: Node, keys: tuple[str, ...], fallback: When | None) -> When:
    """The first present timestamp among `keys`, else `fallback` (e.g. a delivery header)."""
    for key in keys:
        value = node.opt_time(key)
        if value is not None:
            return When(value, node.field(key))
    if fallback is None:
        raise MappingError(node.field(keys[0]), "required timestamp is missing")
    return fallback


@dataclass(frozen=True, slots=True)
class Who:
    """Whom an event is about (it becomes the record key) and where each id came from."""

    customer_id: str | None = None
    customer_field: str = ""
    anonymous_id: str | None = None
    anonymous_field: str = ""


def envelope(
    event: type[E], *, event_id: str, source: str, shop_id: str, when: When, who: Who, data: Any
) -> E:
    """A typed event; `data` is an already-validated model (so its errors were mapped)."""
    if who.customer_id is None and who.anonymous_id is None:
        raise MappingError(who.customer_field or ROOT, "no customer id or anonymous id to key by")
    return build(
        event,
        {
            "time": when.field,
            "shopid": "shop_id",
            "customerid": who.customer_field,
            "anonymousid": who.anonymous_field,
        },
        id=event_id,
        source=source,
        time=when.value,
        shopid=shop_id,
        customerid=who.customer_id,
        anonymousid=who.anonymous_id,
        data=data,
    )
