"""The `attribution:` section of a shop's feedback file: defaults, windows, and refusals that
name the file and the field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from services.feedback.attribution.policy import AttributionPolicies, AttributionPolicy
from shared.events.conversions import AttributionModel, TouchKind

DEFAULTS = {
    TouchKind.CLICK: timedelta(days=5),
    TouchKind.OPEN: timedelta(days=1),
    TouchKind.DELIVERY: timedelta(days=1),
}


def load(tmp_path: Path, **files: str) -> AttributionPolicies:
    for shop, text in files.items():
        (tmp_path / f"{shop}.yaml").write_text(text)
    return AttributionPolicies.load(tmp_path)


def test_without_files_every_shop_gets_the_defaults(tmp_path: Path) -> None:
    for policies in (AttributionPolicies.load(None), load(tmp_path)):
        policy = policies.for_shop("acme")
        assert (policy.model, dict(policy.windows)) == (AttributionModel.LAST_TOUCH, DEFAULTS)
        assert policies.longest == timedelta(days=5)


def test_a_file_without_the_section_keeps_the_defaults_and_other_sections_are_not_read(
    tmp_path: Path,
) -> None:
    policies = load(tmp_path, acme="sms:\n  brand: Acme\nsomething_else: [1, 2]\n")
    assert dict(policies.for_shop("acme").windows) == DEFAULTS


def test_a_shop_sets_its_windows_and_turns_a_kind_off(tmp_path: Path) -> None:
    policies = load(
        tmp_path,
        acme="attribution:\n  model: last_touch\n  windows:\n"
        "    click: 36h\n    open: PT90M\n    delivery: null\n",
        long="attribution:\n  windows:\n    click: 30d\n",
    )
    assert policies.for_shop("acme") == AttributionPolicy(
        AttributionModel.LAST_TOUCH,
        {TouchKind.CLICK: timedelta(hours=36), TouchKind.OPEN: timedelta(minutes=90)},
    )
    assert policies.for_shop("acme").longest == timedelta(hours=36)
    assert policies.for_shop("other") == AttributionPolicy()
    assert policies.longest == timedelta(days=30)


@pytest.mark.parametrize(
    ("section", "field", "says"),
    [
        ("windows:\n    click: 5", "attribution.windows.click", "give a unit"),
        ("windows:\n    open: 0h", "attribution.windows.open", "longer than zero"),
        ("windows:\n    delivery: 31d", "attribution.windows.delivery", "at most 30 days"),
        ("windows:\n    clicks: 5d", "attribution.windows.clicks", "Extra inputs"),
        ("windows:\n    click: soon", "attribution.windows.click", "duration"),
        ("model: first_touch", "attribution.model", "last_touch"),
    ],
)
def test_a_bad_section_is_refused_naming_the_file_and_the_field(
    tmp_path: Path, section: str, field: str, says: str
) -> None:
    with pytest.raises(ValueError) as refused:
        load(tmp_path, good="attribution: {}\n", acme=f"attribution:\n  {section}\n")
    message = str(refused.value)
    assert "acme.yaml" in message and "good.yaml" not in message
    assert field in message and says in message


def test_an_unreadable_file_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"acme\.yaml"):
        load(tmp_path, acme="attribution: [unclosed\n")
