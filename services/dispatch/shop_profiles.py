"""Each shop's brand (how messages are signed) and sending policy (quiet hours, caps).

One YAML file per shop, `<shop_id>.yaml` in NUDGE_DISPATCH_SHOPS_DIR, validated at start:

    brand: {name: Demo Coffee Roasters, url: "https://demo-coffee.example",
            support_email: help@demo-coffee.example, from_email: hello@demo-coffee.example}
    quiet_hours: {start: "21:00", end: "08:00"}     # marketing SMS, customer's time zone
    default_time_zone: Europe/Amsterdam              # for customers whose zone is unknown
    frequency_cap: {count: 1, hours: 16}             # marketing messages per channel
    tracking: {clicks: true, opens: true}            # click tracking, the open pixel
    value_tiers: {low_up_to: 2, high_from: 5}        # RFM monetary score (1-5) -> value tier
    incentives:                                      # per campaign: the code by value tier
      win_back:
        low: {code: COMEBACK10, percent: 10}
        high: {code: COMEBACK20, percent: 20}        # or just `high: COMEBACK20`

A shop without a file gets the defaults shown (brand named after the shop id), except
`incentives`, which is empty by default: every customer gets the campaign's own
`incentive_code`. Dispatch cannot know which discount codes exist in a shop, so a shop maps
the codes it created: `low`, `standard` and `high` (the customer's value tier, from the RFM
monetary score the segmenter gives them: services/dispatch/incentives.py), each to a code and,
optionally, what it takes off in percent (templates show "20% off" then). A tier not mapped,
and a customer with no score yet, get the campaign's code; a campaign without a code gets none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, model_validator

from services.dispatch.incentives import (
    Incentive,
    IncentiveSettings,
    TierBounds,
    ValueTier,
)
from services.dispatch.links import Tracking
from services.dispatch.policy import ShopPolicy
from services.dispatch.templates.variables import ShopBrand
from shared.events.triggers import CampaignId
from shared.events.types import TimeZoneName

_CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BrandFile(_Strict):
    name: Annotated[str, Field(max_length=200)] | None = None
    url: Annotated[str, Field(pattern=r"^https?://\S+$")] | None = None
    support_email: EmailStr | None = None
    support_phone: str | None = None
    from_email: EmailStr | None = None
    from_name: str | None = None
    address: str | None = None


class QuietHours(_Strict):
    start: Annotated[str, Field(pattern=_CLOCK)] = "21:00"
    end: Annotated[str, Field(pattern=_CLOCK)] = "08:00"


class FrequencyCap(_Strict):
    count: Annotated[int, Field(ge=1, le=100)] = 1
    hours: Annotated[float, Field(gt=0, le=24 * 30)] = 16


class TrackingFile(_Strict):
    """Some markets require consent before tracking (an open pixel is a tracker under the
    ePrivacy rules): such a shop turns either off."""

    clicks: bool = True
    """Links go through `/c/<token>` (the click is recorded, then the customer redirected)."""
    opens: bool = True
    """Emails carry the 1x1 pixel `/o/<token>.gif`."""


class ValueTiersFile(_Strict):
    """Where the value tiers start on the RFM monetary score (1-5, the shop's quintiles)."""

    low_up_to: Annotated[int, Field(ge=1, le=4)] = 2
    """Scores up to this one are `low`."""
    high_from: Annotated[int, Field(ge=2, le=5)] = 5
    """Scores from this one are `high`; those in between `standard`."""

    @model_validator(mode="after")
    def _ordered(self) -> ValueTiersFile:
        if self.low_up_to >= self.high_from:
            raise ValueError("low_up_to must be below high_from")
        return self


Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\S+$")]
"""A discount code as the shop created it (the length a campaign's `incentive_code` may have)."""


class IncentiveFile(_Strict):
    code: Code
    percent: Annotated[Decimal, Field(gt=0, le=100)] | None = None
    """What the code takes off, for copy that names it; unknown when left out."""


class ShopFile(_Strict):
    brand: BrandFile = BrandFile()
    quiet_hours: QuietHours = QuietHours()
    default_time_zone: TimeZoneName = "UTC"
    frequency_cap: FrequencyCap = FrequencyCap()
    tracking: TrackingFile = TrackingFile()
    value_tiers: ValueTiersFile = ValueTiersFile()
    incentives: dict[CampaignId, dict[ValueTier, Code | IncentiveFile]] = {}


@dataclass(frozen=True)
class ShopProfile:
    brand: ShopBrand
    policy: ShopPolicy
    tracking: Tracking = field(default_factory=Tracking)
    incentives: IncentiveSettings = field(default_factory=IncentiveSettings)


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def _profile(shop_id: str, parsed: ShopFile, default_url: str | None = None) -> ShopProfile:
    fields = parsed.brand.model_dump()
    if fields["url"] is None and default_url is not None:
        fields["url"] = default_url.replace("{shop_id}", shop_id)
    brand = ShopBrand(shop_id=shop_id, **fields)
    policy = ShopPolicy(
        quiet_start=_clock(parsed.quiet_hours.start),
        quiet_end=_clock(parsed.quiet_hours.end),
        default_time_zone=parsed.default_time_zone,
        cap_count=parsed.frequency_cap.count,
        cap_window=timedelta(hours=parsed.frequency_cap.hours),
    )
    tracking = Tracking(clicks=parsed.tracking.clicks, opens=parsed.tracking.opens)
    incentives = IncentiveSettings(
        TierBounds(parsed.value_tiers.low_up_to, parsed.value_tiers.high_from),
        {
            campaign: {tier: _incentive(given) for tier, given in tiers.items()}
            for campaign, tiers in parsed.incentives.items()
        },
    )
    return ShopProfile(brand, policy, tracking, incentives)


def _incentive(given: str | IncentiveFile) -> Incentive:
    if isinstance(given, str):
        return Incentive(given)
    return Incentive(given.code, given.percent)


@dataclass
class ShopProfiles:
    known: dict[str, ShopProfile] = field(default_factory=dict)
    default_url: str | None = None

    @classmethod
    def load(cls, directory: Path | None, default_url: str | None = None) -> ShopProfiles:
        """Read every `<shop_id>.yaml`; raise ValueError listing every broken file."""
        profiles: dict[str, ShopProfile] = {}
        problems: list[str] = []
        for path in sorted(directory.glob("*.yaml")) if directory else []:
            try:
                parsed = ShopFile.model_validate(yaml.safe_load(path.read_text()) or {})
            except (ValidationError, yaml.YAMLError) as exc:
                problems.append(f"{path.name}: {exc}")
                continue
            profiles[path.stem] = _profile(path.stem, parsed, default_url)
        if problems:
            raise ValueError("invalid shop profiles:\n" + "\n".join(problems))
        return cls(profiles, default_url)

    def for_shop(self, shop_id: str) -> ShopProfile:
        found = self.known.get(shop_id)
        if found is None:
            found = self.known[shop_id] = _profile(shop_id, ShopFile(), self.default_url)
        return found
