"""The incentive a message shows: the shop's code for the customer's value tier where the shop
mapped one for the campaign, the campaign's own code otherwise, never one the campaign lacks."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.dispatch.incentives import (
    Incentive,
    IncentiveSettings,
    TierBounds,
    ValueTier,
    incentive_for,
    value_tier,
)

SCALED = IncentiveSettings(
    campaigns={
        "win_back": {
            ValueTier.LOW: Incentive("COMEBACK10", Decimal(10)),
            ValueTier.HIGH: Incentive("COMEBACK20", Decimal(20)),
        }
    }
)


@pytest.mark.parametrize(
    ("score", "tier"),
    [
        (None, None),
        (1, ValueTier.LOW),
        (2, ValueTier.LOW),
        (3, ValueTier.STANDARD),
        (4, ValueTier.STANDARD),
        (5, ValueTier.HIGH),
    ],
)
def test_value_tiers_by_default_bounds(score: int | None, tier: ValueTier | None) -> None:
    assert value_tier(score, TierBounds()) is tier


def test_a_shop_moves_the_bounds() -> None:
    wide = TierBounds(low_up_to=1, high_from=4)
    assert [value_tier(s, wide) for s in (1, 2, 3, 4, 5)] == [
        ValueTier.LOW,
        ValueTier.STANDARD,
        ValueTier.STANDARD,
        ValueTier.HIGH,
        ValueTier.HIGH,
    ]


def test_win_back_scales_with_value_and_the_campaigns_code_is_the_default() -> None:
    def offer(score: int | None) -> Incentive | None:
        return incentive_for("win_back", "COMEBACK15", score, SCALED)

    assert offer(1) == Incentive("COMEBACK10", Decimal(10))
    assert offer(5) == Incentive("COMEBACK20", Decimal(20))
    assert offer(3) == Incentive("COMEBACK15")  # the standard tier is not mapped
    assert offer(None) == Incentive("COMEBACK15")  # no score yet


def test_other_campaigns_and_shops_without_a_mapping_keep_the_campaigns_code() -> None:
    assert incentive_for("birthday", "BDAY20", 5, SCALED) == Incentive("BDAY20")
    assert incentive_for("win_back", "COMEBACK15", 5, IncentiveSettings()) == Incentive(
        "COMEBACK15"
    )


def test_a_campaign_without_a_code_gets_none_whatever_the_mapping() -> None:
    assert incentive_for("win_back", None, 5, SCALED) is None
