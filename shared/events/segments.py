"""Segment entries and exits, as records of `segments.changes.v1`.

Written by the segmenter whenever a customer's profile starts or stops matching a segment
rule; read by triggers (win-back, VIP and other segment-entry campaigns) and analysts.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal

from pydantic import Field, TypeAdapter

from shared.events.envelope import EventEnvelope
from shared.events.types import VALIDATED_UPSTREAM, Model

SegmentId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,99}$")]
"""A segment's id as declared in the shop's segment rules, e.g. `vip` or `lapsed`."""


class SegmentChange(Model):
    segment_id: SegmentId
    rule_version: Annotated[int, Field(ge=1)] = 1
    """Which revision of the segment's rule decided, so that a rule edit explains a change."""
    reason: Annotated[str, Field(max_length=500)] | None = None
    """Human-readable why, e.g. `revenue 812.40 >= 500 and orders 4 >= 3`."""
    entry: Annotated[int, Field(ge=1)] | None = None
    """Which of the customer's entries into this segment this is (or ends): 1 for the first."""


class SegmentEnteredEvent(EventEnvelope):
    type: Literal["segment.entered"] = "segment.entered"
    data: SegmentChange


class SegmentExitedEvent(EventEnvelope):
    type: Literal["segment.exited"] = "segment.exited"
    data: SegmentChange


SegmentEvent = Annotated[SegmentEnteredEvent | SegmentExitedEvent, Field(discriminator="type")]

SEGMENT_EVENT: Final[TypeAdapter[SegmentEvent]] = TypeAdapter(SegmentEvent)


def parse_segment_event(raw: bytes | str) -> SegmentEvent:
    """Parse one record value of `segments.changes.v1`; raises pydantic.ValidationError."""
    return SEGMENT_EVENT.validate_json(raw)


def parse_segment_event_validated_upstream(raw: bytes | str) -> SegmentEvent:
    """Parse a record the segmenter wrote (and so validated), with the `VALIDATED_UPSTREAM`
    context: the same as `parse_segment_event` today (a segment change holds no email or phone),
    and it stays cheap if one is ever added."""
    return SEGMENT_EVENT.validate_json(raw, context=VALIDATED_UPSTREAM)
