"""Orders credited to the message that led to them, as records of `conversions.v1`.

Written by the feedback service's attribution consumer (services/feedback/attribution/, where
the rules are: which touches count, their windows, last touch, ties); read by the segmenter,
feedback's reports and analysts. At most one record per order: the envelope id derives from
the shop and the order id, so a replay, or a publish said again after a restart, carries the
same id. The envelope's `time` is the order's, its key the order's customer.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import Field, TypeAdapter, field_validator

from shared.events.envelope import EventEnvelope, EventId, derived_event_id
from shared.events.shop import Channel
from shared.events.types import Id, Model, Money, Timestamp

CONVERSION_ORIGIN: Final = "conversion"


def conversion_event_id(shop_id: str, order_id: str) -> str:
    """The one id an order's conversion can have: one conversion per order, however often
    the order or its conversion is said again."""
    return derived_event_id(shop_id, CONVERSION_ORIGIN, order_id)


class TouchKind(StrEnum):
    """How a message reached the customer before the order."""

    CLICK = "click"
    """A person followed a tracked link of the message."""
    OPEN = "open"
    """A person opened the message (the tracking pixel; machine opens never count)."""
    DELIVERY = "delivery"
    """The message arrived: an email the receiving SMTP server accepted (`message.sent`), an
    SMS the provider reported delivered (`message.delivered`)."""


class AttributionModel(StrEnum):
    """How credit is given; one model so far (room is left for others, such as first touch)."""

    LAST_TOUCH = "last_touch"
    """All the credit to the most recent qualifying touch."""


class AttributedMessage(Model):
    """The message credited with the order."""

    message_id: Id
    campaign_id: Annotated[str, Field(max_length=64)]
    trigger_id: Id | None = None
    """The campaign step that sent it, when known."""
    channel: Channel


class ConversionAttributed(Model):
    """An order credited to a message: its revenue, and the touch that earned the credit."""

    order_id: Id
    order_number: Annotated[str, Field(max_length=64)] | None = None
    revenue: Money
    """The order's total, in its currency."""
    message: AttributedMessage
    touch: TouchKind
    touched_at: Timestamp
    """When the touch happened (before the order, within `window` of it)."""
    window: timedelta
    """The touch kind's window that applied (the shop's setting), as an ISO 8601 duration."""
    model: AttributionModel
    order_event_id: EventId
    """The id of the `order.placed` event on `shop.events.v1` that was credited."""

    @field_validator("window")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("a window is longer than zero")
        return value


class ConversionAttributedEvent(EventEnvelope):
    type: Literal["conversion.attributed"] = "conversion.attributed"
    data: ConversionAttributed


ConversionEvent = ConversionAttributedEvent
"""Every record type of `conversions.v1` (one so far; a union with a discriminator once there
are more, e.g. a conversion reversed by a refund)."""

CONVERSION_EVENT: Final[TypeAdapter[ConversionEvent]] = TypeAdapter(ConversionEvent)


def parse_conversion_event(raw: bytes | str) -> ConversionEvent:
    """Parse one record value of `conversions.v1`; raises pydantic.ValidationError."""
    return CONVERSION_EVENT.validate_json(raw)
