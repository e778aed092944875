"""The shape of a segment file (`<shop_id>.yaml`, or the shipped `default.yaml`), validated by
pydantic; the rules inside are compiled by the loader."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.segmenter.lifecycle import LifecycleRules
from services.segmenter.rfm.settings import RfmSettings

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]


class SegmentSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Annotated[int, Field(ge=1)] = 1
    """Bumped by the marketer with each change of meaning: segment changes carry it."""
    description: Annotated[str, Field(max_length=500)] = ""
    when: Annotated[str, Field(min_length=1, max_length=2_000)] | None = None
    enabled: bool = True


class SegmentFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    currency: Currency | None = None
    """The shop's currency (ISO 4217): revenue and AOV are in it; None: each customer's first
    order's currency."""
    lifecycle: LifecycleRules = LifecycleRules()
    rfm: RfmSettings = RfmSettings()
    segments: dict[str, SegmentSpec] = {}
