"""Shops' campaign categories from their feedback files: order kept, mistakes named."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.feedback.unsubscribe.categories import load_categories


def test_each_shop_gets_its_categories_in_the_files_order(tmp_path: Path) -> None:
    (tmp_path / "acme.yaml").write_text(
        "sms: {brand: Acme}\npreferences:\n  categories:\n"
        "    - {id: tips, label: Brewing tips}\n    - {id: offers, label: Offers}\n"
    )
    (tmp_path / "bakery.yaml").write_text("sms: {brand: Bakery}\n")
    found = load_categories(tmp_path)
    assert [(c.id, c.label) for c in found["acme"]] == [
        ("tips", "Brewing tips"),
        ("offers", "Offers"),
    ]
    assert "bakery" not in found
    assert load_categories(None) == {}


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ("categories: [{id: Offers!, label: x}]", "id"),
        ("categories: [{id: offers}]", "label"),
        ("categories: [{id: a, label: x}, {id: a, label: y}]", "listed twice: a"),
        ("categories: [{id: a, label: x, colour: red}]", "colour"),
    ],
)
def test_a_broken_file_is_refused_naming_the_file_and_field(
    tmp_path: Path, section: str, named: str
) -> None:
    (tmp_path / "acme.yaml").write_text(f"preferences:\n  {section}\n")
    with pytest.raises(ValueError, match=r"acme\.yaml") as caught:
        load_categories(tmp_path)
    assert named in str(caught.value)
