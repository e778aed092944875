"""A customer's profile as analysts and dispatch read it: records of `customer.profiles.v1`.

The topic is compacted: its latest record per key is the customer's current profile. The
segmenter writes one when something in this document is news (counters alone are not: a new
category, an order, a stage, a segment, consent or the day of the last activity are), so
browsing alone publishes at most once a day, never on every event; the record then carries
every counter as it stands.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Final, Literal

from pydantic import Field, TypeAdapter

from shared.events.envelope import EventEnvelope
from shared.events.segments import SegmentId
from shared.events.types import Model, Money, Timestamp

Name = Annotated[str, Field(max_length=255)]
Stage = Literal["lead", "first_time", "repeat", "at_risk", "lapsed", "churned"]


class Tallied(Model):
    """A category or brand, with how often and when last."""

    name: Name
    count: Annotated[int, Field(ge=1)]
    last_at: Timestamp


class ChannelEngagement(Model):
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    """Opens by people (machine opens, such as Apple Mail Privacy Protection, are not counted)."""
    clicked: int = 0
    replied: int = 0
    last_engaged_at: Timestamp | None = None


class Score(Model):
    score: int
    at: Timestamp


class Rfm(Model):
    """Recency, frequency and monetary scores, 1 (lowest) to 5, from the shop's quintiles."""

    r: Annotated[int, Field(ge=1, le=5)]
    f: Annotated[int, Field(ge=1, le=5)]
    m: Annotated[int, Field(ge=1, le=5)]


class MemberOf(Model):
    segment_id: SegmentId
    since: Timestamp
    rule_version: int


class CustomerProfile(Model):
    orders: int
    """Orders placed and not cancelled."""
    revenue: Money | None = None
    """Lifetime value net of refunds and cancellations, in the shop's currency."""
    average_order_value: Money | None = None
    other_revenue: list[Money] = Field(default_factory=list)
    """Revenue in other currencies, never converted nor summed into `revenue`."""
    first_order_at: Timestamp | None = None
    last_order_at: Timestamp | None = None
    repeat_interval_days: Decimal | None = None
    """The median gap between the customer's orders, in days."""
    repeat_interval_gaps: int = 0
    """How many gaps the median rests on."""
    lifecycle: Stage
    rfm: Rfm | None = None
    categories_bought: list[Tallied] = Field(default_factory=list)
    categories_viewed: list[Tallied] = Field(default_factory=list)
    brands_bought: list[Tallied] = Field(default_factory=list)
    brands_viewed: list[Tallied] = Field(default_factory=list)
    last_active_on: date | None = None
    engagement: dict[Literal["email", "sms"], ChannelEngagement] = Field(default_factory=dict)
    consent: dict[Literal["email", "sms"], bool] = Field(default_factory=dict)
    has_email: bool = False
    has_phone: bool = False
    locale: str | None = None
    time_zone: str | None = None
    birthday: date | None = None
    nps: Score | None = None
    csat: Score | None = None
    segments: list[MemberOf] = Field(default_factory=list)


class CustomerProfileEvent(EventEnvelope):
    type: Literal["customer.profile"] = "customer.profile"
    data: CustomerProfile


PROFILE_EVENT: Final[TypeAdapter[CustomerProfileEvent]] = TypeAdapter(CustomerProfileEvent)


def parse_profile_event(raw: bytes | str) -> CustomerProfileEvent:
    """Parse one record value of `customer.profiles.v1`; raises pydantic.ValidationError."""
    return PROFILE_EVENT.validate_json(raw)
