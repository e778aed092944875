"""Campaign files: the default catalog, errors that name file, line and field, overrides."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest

from services.triggers.campaigns import (
    CampaignCatalog,
    CampaignConfigError,
    Kind,
    default_campaigns,
    parse_campaigns,
)
from services.triggers.campaigns.durations import format_duration, parse_duration
from services.triggers.campaigns.loader import _default_source

MINIMAL = """\
campaigns:
  cart:
    kind: abandoned_cart
    entry:
      events: [cart.updated]
    steps:
      - {id: one, delay: 30m, channels: [email], template: cart/one}
      - {id: two, delay: 24h, channels: [email], template: cart/two}
    exit: [order_placed, cart_emptied]
    max_lateness: 6h
"""


def errors_of(text: str, name: str = "shop.yaml") -> list[str]:
    with pytest.raises(CampaignConfigError) as caught:
        parse_campaigns(text, name, base=_default_source())
    return [str(issue) for issue in caught.value.issues]


def test_the_default_catalog_covers_every_campaign_of_the_product() -> None:
    campaigns = default_campaigns()
    assert set(campaigns.by_id) == {
        "welcome",
        "abandoned_cart",
        "browse_abandonment",
        "order_confirmation",
        "shipping_update",
        "delivery_notice",
        "review_request",
        "cross_sell",
        "replenishment",
        "win_back",
        "vip",
        "birthday",
        "first_purchase_anniversary",
    }
    assert {c.kind for c in campaigns.by_id.values()} == set(Kind)
    cart = campaigns.by_id["abandoned_cart"]
    assert [s.delay for s in cart.steps] == [
        timedelta(minutes=30),
        timedelta(hours=24),
        timedelta(hours=72),
    ]
    assert campaigns.by_id["birthday"].entry.at == time(10, 0)
    transactional = {c.id for c in campaigns.by_id.values() if c.transactional}
    assert transactional == {"order_confirmation", "shipping_update", "delivery_notice"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("30m", timedelta(minutes=30)), ("24h", timedelta(hours=24)), ("1d12h", timedelta(hours=36))],
)
def test_durations_read_and_write_back(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize("bad", ["3x", "30", "m", "-1h", "1.5h"])
def test_durations_without_a_unit_or_with_a_wrong_one_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(bad)


def test_an_invalid_duration_names_file_line_and_field() -> None:
    text = MINIMAL.replace("delay: 24h", "delay: 3x")
    assert errors_of(text, "campaigns.yaml") == [
        "campaigns.yaml:8: campaigns[cart].steps[1].delay: "
        "invalid duration '3x': use e.g. 30m, 24h, 3d or 1d12h"
    ]


def test_an_unknown_event_type_is_refused_with_the_allowed_ones() -> None:
    (error,) = errors_of(MINIMAL.replace("[cart.updated]", "[cart.updated, cart.update]"))
    assert error.startswith("shop.yaml:5: campaigns[cart].entry.events[1]: unknown event type")
    assert "allowed: cart.updated, checkout.started, product.added" in error


def test_a_known_event_that_cannot_start_the_kind_is_refused() -> None:
    (error,) = errors_of(MINIMAL.replace("[cart.updated]", "[order.placed]"))
    assert "event type 'order.placed' cannot start a abandoned_cart campaign" in error


def test_unknown_and_missing_fields_point_at_the_field_or_its_parent() -> None:
    text = MINIMAL.replace("    max_lateness: 6h\n", "    max_latenes: 6h\n")
    assert errors_of(text) == [
        "shop.yaml:2: campaigns[cart].max_lateness: Field required",
        "shop.yaml:10: campaigns[cart].max_latenes: unknown field",
    ]


def test_cross_field_rules_name_the_field_to_fix() -> None:
    text = (
        MINIMAL.replace("delay: 24h", "delay: 10m")
        .replace("exit: [order_placed, cart_emptied]", "exit: [order_placed, repurchased]")
        .replace("template: cart/one}", "template: cart/one, variants: [{id: a, weight: 1}]}")
    )
    assert errors_of(text) == [
        "shop.yaml:7: campaigns[cart].steps[0].variants: an A/B test needs at least 2 variants",
        "shop.yaml:8: campaigns[cart].steps[1].delay: 10m is earlier than the previous step's "
        "30m: delays count from the journey's start",
        "shop.yaml:9: campaigns[cart].exit[1]: repurchased does not apply to abandoned_cart; "
        "it is for: replenishment",
    ]


def test_variant_weights_must_be_positive() -> None:
    variants = "variants: [{id: a, weight: 0}, {id: b, weight: 1}]"
    (error,) = errors_of(
        MINIMAL.replace("template: cart/one}", f"template: cart/one, {variants}}}")
    )
    assert error == (
        "shop.yaml:7: campaigns[cart].steps[0].variants[0].weight: Input should be greater than 0"
    )


def test_transactional_campaigns_cannot_exit_on_consent_or_fall_back_on_silence() -> None:
    text = """\
campaigns:
  receipt:
    kind: order_update
    transactional: true
    entry: {events: [order.placed]}
    steps:
      - id: now
        delay: 0
        channels: [email]
        fallback: {channel: sms, unless: opened, within_hours: 4}
        template: order/receipt
    exit: [opted_out]
    max_lateness: 1h
"""
    assert errors_of(text) == [
        "shop.yaml:10: campaigns[receipt].steps[0].fallback: transactional messages go out on "
        "their channels as listed; fallback on no response is for marketing",
        "shop.yaml:12: campaigns[receipt].exit[0]: transactional campaigns never exit for consent",
    ]


def test_yaml_syntax_errors_and_duplicate_keys_name_their_line() -> None:
    (syntax,) = errors_of("campaigns:\n  cart: [unclosed\n")
    assert syntax.startswith("shop.yaml:3: ")
    (duplicate,) = errors_of(MINIMAL + "    max_lateness: 1h\n")
    assert (
        duplicate == "shop.yaml:11: campaigns[cart].max_lateness: written twice in the same mapping"
    )


def test_times_of_day_are_not_read_as_base_60_numbers() -> None:
    text = """\
extends: default
campaigns:
  birthday:
    entry: {occasion: birthday, at: 09:30}
"""
    campaigns = parse_campaigns(text, "shop.yaml", base=_default_source())
    assert campaigns.by_id["birthday"].entry.at == time(9, 30)


def test_a_shop_file_overrides_fields_disables_and_adds_campaigns() -> None:
    text = """\
extends: default
settings:
  default_time_zone: Europe/Amsterdam
campaigns:
  abandoned_cart:
    steps:
      - {id: only, delay: 2h, channels: [sms], template: cart/only}
  browse_abandonment:
    enabled: false
  vip-gold:
    kind: segment_entry
    entry: {segment: vip-gold}
    steps:
      - {id: hello, delay: 0, channels: [email], template: vip/gold}
    exit: [segment_exited]
    max_lateness: 1d
"""
    campaigns = parse_campaigns(text, "shop.yaml", base=_default_source())
    cart = campaigns.by_id["abandoned_cart"]
    assert [s.id for s in cart.steps] == ["only"]
    assert cart.max_lateness == default_campaigns().by_id["abandoned_cart"].max_lateness
    assert cart.exit == default_campaigns().by_id["abandoned_cart"].exit
    assert campaigns.enabled("browse_abandonment") is None
    assert "product.viewed" not in campaigns.by_event
    assert campaigns.by_segment["vip-gold"][0].id == "vip-gold"
    assert str(campaigns.default_zone) == "Europe/Amsterdam"
    assert campaigns.enabled("welcome") is not None


def test_errors_in_an_override_point_into_the_shop_file() -> None:
    text = """\
extends: default
campaigns:
  abandoned_cart:
    max_lateness: soon
"""
    assert errors_of(text) == [
        "shop.yaml:4: campaigns[abandoned_cart].max_lateness: "
        "invalid duration 'soon': use e.g. 30m, 24h, 3d or 1d12h"
    ]


def test_an_unknown_base_is_refused() -> None:
    assert errors_of("extends: defaults\ncampaigns: {}\n") == [
        "shop.yaml:1: extends: only 'default' exists"
    ]


def test_the_catalog_loads_a_directory_and_reports_every_broken_file(tmp_path: Path) -> None:
    (tmp_path / "acme.yaml").write_text("extends: default\ncampaigns:\n  vip: {enabled: false}\n")
    catalog = CampaignCatalog.load(tmp_path)
    assert catalog.for_shop("acme").enabled("vip") is None
    assert catalog.for_shop("other").enabled("vip") is not None
    (tmp_path / "bad.yaml").write_text(
        "extends: default\ncampaigns:\n  vip: {reentry: sometimes}\n"
    )
    (tmp_path / "worse.yaml").write_text("campaigns: [\n")
    with pytest.raises(CampaignConfigError) as caught:
        CampaignCatalog.load(tmp_path)
    assert [issue.file for issue in caught.value.issues] == ["bad.yaml", "worse.yaml"]
    assert "invalid re-entry 'sometimes'" in str(caught.value)
