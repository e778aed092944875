"""The incentive a message shows: the campaign's code, or the shop's code for the customer's
value tier (win-back's personal incentive scaled to what the customer is worth to the shop).

The value tier comes from the RFM monetary score the segmenter gives each customer (1-5, from
the shop's quintiles of net revenue, so it means the same in a small shop as in a large one):
`low` up to `low_up_to` (default 2: the lower two fifths), `high` from `high_from` (default 5:
the top fifth), `standard` in between; no score (no order yet, or no profile) is no tier. A
shop maps tiers to codes per campaign in its profile file (shop_profiles.py). The campaign's own
`incentive_code` is the default: for a tier the shop did not map, and for a customer without a
tier. A campaign without a code shows none: the mapping scales an incentive the campaign
offers, it never adds one. Pure: the sender passes the score it loaded with the contact.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum


class ValueTier(StrEnum):
    LOW = "low"
    STANDARD = "standard"
    HIGH = "high"


@dataclass(frozen=True, slots=True)
class TierBounds:
    """Where the tiers start on the RFM monetary score (1-5)."""

    low_up_to: int = 2
    high_from: int = 5


@dataclass(frozen=True, slots=True)
class Incentive:
    """What a message offers: the code to type at checkout, and (when the shop says) how much
    it takes off, for copy that names it ("20% off")."""

    code: str
    percent: Decimal | None = None


@dataclass(frozen=True)
class IncentiveSettings:
    """A shop's mapping: campaign id -> value tier -> the incentive shown instead of the
    campaign's code."""

    tiers: TierBounds = TierBounds()
    campaigns: Mapping[str, Mapping[ValueTier, Incentive]] = field(default_factory=dict)


def value_tier(monetary_score: int | None, bounds: TierBounds) -> ValueTier | None:
    """The customer's tier by their RFM monetary score, or None without a score."""
    if monetary_score is None:
        return None
    if monetary_score >= bounds.high_from:
        return ValueTier.HIGH
    if monetary_score <= bounds.low_up_to:
        return ValueTier.LOW
    return ValueTier.STANDARD


def incentive_for(
    campaign_id: str,
    campaign_code: str | None,
    monetary_score: int | None,
    settings: IncentiveSettings,
) -> Incentive | None:
    """The incentive a message of `campaign_id` shows this customer, or None (no code)."""
    if campaign_code is None:
        return None
    tier = value_tier(monetary_score, settings.tiers)
    scaled = settings.campaigns.get(campaign_id, {})
    if tier is not None and tier in scaled:
        return scaled[tier]
    return Incentive(campaign_code)
