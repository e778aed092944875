"""Each shop's attribution policy: the model and each touch kind's window.

Read from the `attribution:` section of `<shop_id>.yaml` in NUDGE_FEEDBACK_SHOPS_DIR (the
file's other sections belong to other parts of the feedback service), validated when the
service starts; every field is optional:

    attribution:
      model: last_touch        # the only model so far
      windows:                 # how long after a touch an order still counts
        click: 5d              # a duration: 5d, 36h, 90m, or ISO 8601 (P5D, PT36H)
        open: 1d
        delivery: null         # null: this kind of touch earns no credit in this shop

A window is longer than zero and at most 30 days (the topics' retention: a touch older than
that could not be found again after a rebuild). A shop without a file gets the defaults.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Final

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, field_validator

from shared.events.conversions import AttributionModel, TouchKind

MAX_WINDOW: Final = timedelta(days=30)
DEFAULT_WINDOWS: Final[Mapping[TouchKind, timedelta]] = {
    TouchKind.CLICK: timedelta(days=5),
    TouchKind.OPEN: timedelta(days=1),
    TouchKind.DELIVERY: timedelta(days=1),
}


_SHORT_DURATION = re.compile(r"^\s*(\d{1,6}(?:\.\d{1,6})?)\s*([dhm])\s*$")
_UNITS: Final = {"d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}


def _duration_text(value: object) -> object:
    """`5d`, `36h`, `90m`; anything else is left to pydantic (ISO 8601: `P5D`, `PT36H`). A bare
    number would be seconds to pydantic and days to a reader: it is refused."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError("give a unit, e.g. 5d, 36h or 90m (a bare number is ambiguous)")
    if isinstance(value, str) and (short := _SHORT_DURATION.match(value)):
        return float(short.group(1)) * _UNITS[short.group(2)]
    return value


Window = Annotated[timedelta, BeforeValidator(_duration_text)]


class WindowsSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    click: Window | None = DEFAULT_WINDOWS[TouchKind.CLICK]
    open: Window | None = DEFAULT_WINDOWS[TouchKind.OPEN]
    delivery: Window | None = DEFAULT_WINDOWS[TouchKind.DELIVERY]

    @field_validator("click", "open", "delivery")
    @classmethod
    def _in_range(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and not timedelta(0) < value <= MAX_WINDOW:
            raise ValueError("a window is longer than zero and at most 30 days")
        return value


class AttributionSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: AttributionModel = AttributionModel.LAST_TOUCH
    windows: WindowsSection = WindowsSection()


class ShopFile(BaseModel):
    """A feedback shop file; only its `attribution` section is read here."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    attribution: AttributionSection = AttributionSection()


@dataclass(frozen=True)
class AttributionPolicy:
    """How one shop's orders are credited."""

    model: AttributionModel = AttributionModel.LAST_TOUCH
    windows: Mapping[TouchKind, timedelta] = field(default_factory=lambda: dict(DEFAULT_WINDOWS))
    """Each kind's window; a kind missing here earns no credit."""

    @property
    def longest(self) -> timedelta:
        """How far before an order a touch may lie and still count."""
        return max(self.windows.values(), default=timedelta(0))

    @classmethod
    def of(cls, section: AttributionSection) -> AttributionPolicy:
        given = {
            TouchKind.CLICK: section.windows.click,
            TouchKind.OPEN: section.windows.open,
            TouchKind.DELIVERY: section.windows.delivery,
        }
        windows = {kind: window for kind, window in given.items() if window is not None}
        return cls(section.model, windows)


@dataclass(frozen=True)
class AttributionPolicies:
    """Every shop's policy; shops without a file get the defaults."""

    shops: Mapping[str, AttributionPolicy] = field(default_factory=dict)
    default: AttributionPolicy = AttributionPolicy()

    @classmethod
    def load(cls, directory: Path | None) -> AttributionPolicies:
        """Read every `<shop_id>.yaml`; raise ValueError naming every broken file and field."""
        shops: dict[str, AttributionPolicy] = {}
        problems: list[str] = []
        for path in sorted(directory.glob("*.yaml")) if directory else []:
            try:
                parsed = ShopFile.model_validate(yaml.safe_load(path.read_text()) or {})
            except (ValidationError, yaml.YAMLError, OSError) as exc:
                problems.append(f"{path.name}: {exc}")
                continue
            shops[path.stem] = AttributionPolicy.of(parsed.attribution)
        if problems:
            raise ValueError("invalid feedback shop files:\n" + "\n".join(problems))
        return cls(shops)

    def for_shop(self, shop_id: str) -> AttributionPolicy:
        return self.shops.get(shop_id, self.default)

    @property
    def longest(self) -> timedelta:
        """The longest window of any shop: touches older than that are never needed again."""
        return max((p.longest for p in (self.default, *self.shops.values())), default=timedelta(0))
