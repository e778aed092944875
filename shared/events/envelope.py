"""The one envelope every record on every topic carries, modelled on CloudEvents 1.0.

Extension attribute names follow CloudEvents' rule (lower-case letters and digits only), so
the same attributes can travel as `ce_` Kafka headers or HTTP headers unchanged:
`shopid`, `customerid`, `anonymousid`, `schemaversion`.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal, Self

from pydantic import Field, model_validator

from shared.events.name_ids import NameIds
from shared.events.types import Id, Model, ShopId, Timestamp

EventId = Annotated[str, Field(min_length=1, max_length=255, pattern=r"^[\x21-\x7e]+$")]
"""Printable ASCII without spaces: the producer's id, or one Nudge derived deterministically."""

_NUDGE_IDS = NameIds(uuid.UUID("6f1a3c52-8d0e-4f6b-9a57-3b1f0c9e2d41"))


def derived_event_id(shop_id: str, origin: str, origin_id: str) -> str:
    """A stable id for an event that has an id at its origin (webhook id, Segment messageId).

    The same delivery always maps to the same id, which is what lets every consumer drop
    duplicates (README, "Duplicates").
    """
    return _NUDGE_IDS(f"{shop_id}\x1f{origin}\x1f{origin_id}")


def new_event_id() -> str:
    return str(uuid.uuid4())


def record_key(shop_id: str, customer_id: str | None, anonymous_id: str | None) -> str:
    """The Kafka key: `shop:customer`, or `shop:anon:visitor` before the visitor is known.

    The `anon:` marker keeps a visitor id from ever colliding with a customer id.
    """
    if customer_id is not None:
        return f"{shop_id}:{customer_id}"
    if anonymous_id is not None:
        return f"{shop_id}:anon:{anonymous_id}"
    raise ValueError("an event needs a customer id or an anonymous id")


class EventEnvelope(Model):
    """CloudEvents 1.0 attributes plus Nudge's extensions; `data` is typed per event type."""

    specversion: Literal["1.0"] = "1.0"
    id: EventId
    source: Annotated[str, Field(min_length=1, max_length=255)]
    """Where the event came from, e.g. `/shops/acme/shopify` or `/shops/acme/api`."""
    type: str
    time: Timestamp
    """When it happened at the shop (normalised to UTC)."""
    subject: Annotated[str, Field(max_length=300)] | None = None
    datacontenttype: Literal["application/json"] = "application/json"
    shopid: ShopId
    customerid: Id | None = None
    anonymousid: Id | None = None
    schemaversion: Annotated[int, Field(ge=1)] = 1

    @model_validator(mode="after")
    def _has_someone(self) -> Self:
        if self.customerid is None and self.anonymousid is None:
            raise ValueError("customerid or anonymousid is required")
        return self

    @property
    def key(self) -> str:
        return record_key(self.shopid, self.customerid, self.anonymousid)
