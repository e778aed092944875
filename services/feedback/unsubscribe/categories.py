"""The campaign categories each shop offers on its preference page, from the shop's feedback
file (NUDGE_FEEDBACK_SHOPS_DIR/<shop_id>.yaml):

    preferences:
      categories:
        - {id: offers, label: Offers and discounts}
        - {id: tips, label: Brewing tips and news}

Ids are the `category:` of the shop's campaigns (services/triggers/campaigns/README.md); the
label is what customers read. A campaign whose category no file lists has no box of its own:
only the channel choices govern it. Order is the page's order.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.events.feedback import CategoryId

MAX_CATEGORIES = 20
"""Boxes on one page (and bits in the form's nonce, preference_form.py)."""


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: CategoryId
    label: Annotated[str, Field(min_length=1, max_length=80)]


class PreferencesSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: Annotated[tuple[Category, ...], Field(max_length=MAX_CATEGORIES)] = ()

    @field_validator("categories")
    @classmethod
    def _unique(cls, value: tuple[Category, ...]) -> tuple[Category, ...]:
        ids = [c.id for c in value]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"category listed twice: {', '.join(twice)}")
        return value


class _ShopFile(BaseModel):
    """A feedback shop file; only its `preferences` section is read here."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    preferences: PreferencesSection = PreferencesSection()


def load_categories(directory: Path | None) -> Mapping[str, tuple[Category, ...]]:
    """Every shop's categories; raise ValueError naming every broken file."""
    found: dict[str, tuple[Category, ...]] = {}
    broken: list[str] = []
    for path in sorted(directory.glob("*.yaml")) if directory else []:
        try:
            parsed = _ShopFile.model_validate(yaml.safe_load(path.read_text()) or {})
        except (ValidationError, yaml.YAMLError, OSError) as exc:
            broken.append(f"{path.name}: {exc}")
            continue
        if parsed.preferences.categories:
            found[path.stem] = parsed.preferences.categories
    if broken:
        raise ValueError("broken feedback shop files: " + "; ".join(broken))
    return found
