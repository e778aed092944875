"""The read API's answers as JSON models (their schemas are the OpenAPI document's)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from shared.events.profiles import CustomerProfile


class CustomerOut(BaseModel):
    shop_id: str
    customer_id: str
    as_of: datetime = Field(
        description="When the segmenter published this profile (its record's envelope time)"
    )
    profile: CustomerProfile = Field(
        description="As on customer.profiles.v1; `segments` are the customer's memberships"
    )


class SegmentOut(BaseModel):
    segment_id: str
    size: int = Field(description="How many customers are in the segment now")


class SegmentList(BaseModel):
    shop_id: str
    segments: list[SegmentOut] = Field(
        description="Every segment with at least one customer, by segment id"
    )


class SegmentSizeOut(SegmentOut):
    shop_id: str


class MemberOut(BaseModel):
    customer_id: str
    since: datetime = Field(description="When the customer entered the segment")
    rule_version: int = Field(description="The revision of the segment's rule that let them in")


class MemberPage(BaseModel):
    shop_id: str
    segment_id: str
    members: list[MemberOut] = Field(description="In customer id order (by code point)")
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null on the last page"
    )
