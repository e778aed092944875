"""Shops' SMS profiles: defaults that meet the carriers' rules, per-shop texts, errors that
name the file and field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.feedback.sms.keywords import Keyword
from services.feedback.sms.profiles import SmsProfile, SmsProfiles


def test_defaults_carry_the_brand_and_what_carriers_require() -> None:
    profile = SmsProfile(brand="Demo Coffee", support="help@demo-coffee.example")
    stop = profile.answer(Keyword.STOP)
    assert stop.startswith("Demo Coffee:") and "Reply START to resubscribe" in stop
    help_text = profile.answer(Keyword.HELP)
    assert "Msg&data rates may apply" in help_text
    assert "Reply STOP to unsubscribe" in help_text
    assert help_text.endswith("Help: help@demo-coffee.example")
    start = profile.answer(Keyword.START)
    assert "Demo Coffee" in start and "STOP" in start
    bare = SmsProfile(brand="Nudge").answer(Keyword.HELP)
    assert "Help:" not in bare and "$" not in bare and "Msg&data rates may apply" in bare
    for answer in (stop, help_text, start):
        assert len(answer) <= 306


def test_shop_files_set_their_own_texts_and_keep_other_sections(tmp_path: Path) -> None:
    (tmp_path / "demo-coffee.yaml").write_text(
        """
preferences: {categories: [news, offers]}   # another part of the service reads this
sms:
  brand: Demo Coffee Roasters
  support: "+31 20 123 4567"
  sender: "+1 415 555 0199"
  stop: "$brand: no more texts. Reply START to resubscribe. Costs $$0."
  help: "$brand help: call $support. Msg&data rates may apply. Reply STOP to opt out."
"""
    )
    (tmp_path / "plain.yaml").write_text("sms: {}\n")
    profiles = SmsProfiles.load(tmp_path, "Nudge", "support@nudge.example")
    shop = profiles.for_shop("demo-coffee")
    assert shop.sender == "+14155550199"  # E.164
    assert shop.answer(Keyword.STOP) == (
        "Demo Coffee Roasters: no more texts. Reply START to resubscribe. Costs $0."
    )
    assert shop.answer(Keyword.HELP).startswith("Demo Coffee Roasters help: call +31 20 123 4567")
    assert shop.answer(Keyword.START).startswith("Demo Coffee Roasters: You are subscribed")
    plain = profiles.for_shop("plain")
    assert plain.brand == "Nudge" and plain.support == "support@nudge.example"
    assert profiles.for_shop("no-file") is profiles.deployment
    assert profiles.owner_of("+14155550199") == "demo-coffee"
    assert profiles.owner_of("+15005550006") is None
    assert profiles.has_own_number("demo-coffee") and not profiles.has_own_number("plain")


@pytest.mark.parametrize(
    ("content", "complaint"),
    [
        ("sms: {stop: 'Bye $name'}\n", "unknown placeholder $name"),
        ("sms: {help: 'Costs $5'}\n", "invalid placeholder"),
        ("sms: {sender: '12'}\n", "sms.sender"),
        ("sms: {stop: ''}\n", "sms.stop"),
        ('sms: {stop: "x\\x07y"}\n', "control characters"),  # YAML's escape for BEL
        ("sms: {stop: '" + "x" * 400 + "'}\n", "sms.stop"),
        ("sms: {colour: blue}\n", "sms.colour"),
        ("sms: [\n", "broken.yaml"),
    ],
)
def test_a_broken_file_is_refused_naming_it(tmp_path: Path, content: str, complaint: str) -> None:
    (tmp_path / "broken.yaml").write_text(content)
    with pytest.raises(ValueError) as refused:
        SmsProfiles.load(tmp_path, "Nudge", None)
    assert "broken.yaml" in str(refused.value) and complaint in str(refused.value)


def test_two_shops_cannot_claim_one_number(tmp_path: Path) -> None:
    for shop in ("a-shop", "b-shop"):
        (tmp_path / f"{shop}.yaml").write_text("sms: {sender: '+14155550199'}\n")
    with pytest.raises(
        ValueError, match=re.escape("b-shop.yaml: sms.sender +14155550199 is already a-shop")
    ):
        SmsProfiles.load(tmp_path, "Nudge", None)
