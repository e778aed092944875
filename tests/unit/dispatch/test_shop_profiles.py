"""Shop profiles: files, defaults, and the default shop link for shops without a file."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from services.dispatch.incentives import Incentive, IncentiveSettings, TierBounds, ValueTier
from services.dispatch.shop_profiles import ShopProfiles


def test_a_shop_without_a_file_gets_the_defaults_and_the_default_link() -> None:
    profiles = ShopProfiles.load(None, "https://{shop_id}.example")
    profile = profiles.for_shop("acme-coffee")
    assert profile.brand.url == "https://acme-coffee.example"
    assert profile.brand.display_name == "Acme Coffee"
    assert profile.policy.quiet_start == time(21, 0)
    assert profile.policy.cap_window == timedelta(hours=16)


def test_a_shop_file_sets_brand_and_policy(tmp_path: Path) -> None:
    (tmp_path / "acme.yaml").write_text(
        "brand: {name: Acme, url: 'https://acme.example'}\n"
        "quiet_hours: {start: '22:00', end: '07:30'}\n"
        "frequency_cap: {count: 2, hours: 24}\n"
    )
    profile = ShopProfiles.load(tmp_path).for_shop("acme")
    assert profile.brand.name == "Acme"
    assert (profile.policy.quiet_start, profile.policy.quiet_end) == (time(22), time(7, 30))
    assert (profile.policy.cap_count, profile.policy.cap_window) == (2, timedelta(hours=24))


def test_broken_files_are_all_reported_by_name(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text("quiet_hours: {start: '25:00'}\n")
    (tmp_path / "two.yaml").write_text("frequency_cap: {count: 0}\n")
    with pytest.raises(ValueError, match=r"(?s)one\.yaml.*two\.yaml"):
        ShopProfiles.load(tmp_path)


def test_incentives_by_value_tier_are_per_shop_and_empty_by_default(tmp_path: Path) -> None:
    (tmp_path / "acme.yaml").write_text(
        "value_tiers: {low_up_to: 1, high_from: 4}\n"
        "incentives:\n"
        "  win_back:\n"
        "    low: {code: COMEBACK10, percent: 10}\n"
        "    standard: COMEBACK15\n"
        "    high: {code: COMEBACK20, percent: 12.5}\n"
    )
    profiles = ShopProfiles.load(tmp_path)
    scaled = profiles.for_shop("acme").incentives
    assert scaled.tiers == TierBounds(low_up_to=1, high_from=4)
    assert scaled.campaigns == {
        "win_back": {
            ValueTier.LOW: Incentive("COMEBACK10", Decimal(10)),
            ValueTier.STANDARD: Incentive("COMEBACK15"),
            ValueTier.HIGH: Incentive("COMEBACK20", Decimal("12.5")),
        }
    }
    assert profiles.for_shop("other").incentives == IncentiveSettings()


@pytest.mark.parametrize(
    "body",
    [
        "incentives: {win_back: {gold: COMEBACK30}}\n",  # no such tier
        "incentives: {win_back: {high: 'TWO WORDS'}}\n",
        "incentives: {win_back: {high: {code: COMEBACK20, percent: 120}}}\n",
        "incentives: {Win Back: {high: COMEBACK20}}\n",  # not a campaign id
        "value_tiers: {low_up_to: 3, high_from: 3}\n",
    ],
)
def test_a_broken_incentive_mapping_stops_the_start(tmp_path: Path, body: str) -> None:
    (tmp_path / "acme.yaml").write_text(body)
    with pytest.raises(ValueError, match=r"acme\.yaml"):
        ShopProfiles.load(tmp_path)
