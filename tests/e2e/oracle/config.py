"""The files the services run with in the e2e run, loaded by the services' own loaders.

A folder that is missing, or has no file for a shop, gives that shop the defaults, as the
services do (the triggers' default catalog, dispatch's default shop profile, the built-in
templates).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.dispatch.shop_profiles import ShopProfiles
from services.dispatch.templates.store import TemplateStore
from services.triggers.campaigns import CampaignCatalog
from shared.events.shop import Channel

E2E_CONFIG = Path(__file__).resolve().parent.parent / "config"


@dataclass(frozen=True)
class OracleConfig:
    """Where the services' files are (None or a missing folder: the defaults)."""

    campaigns_dir: Path | None = None
    shops_dir: Path | None = None
    """Dispatch's shop profiles (quiet hours, caps, time zone)."""
    segments_dir: Path | None = None
    feedback_shops_dir: Path | None = None
    templates_dir: Path | None = None
    """Dispatch's per-shop template overrides (None: the built-in templates only)."""

    @classmethod
    def e2e(cls, root: Path = E2E_CONFIG) -> OracleConfig:
        """tests/e2e/config/ (campaigns/, shops/, segments/, feedback-shops/)."""
        return cls(
            campaigns_dir=root / "campaigns",
            shops_dir=root / "shops",
            segments_dir=root / "segments",
            feedback_shops_dir=root / "feedback-shops",
        )


def _existing(path: Path | None) -> Path | None:
    return path if path is not None and path.is_dir() else None


@dataclass
class Loaded:
    """The configuration as the services hold it."""

    catalog: CampaignCatalog
    shops: ShopProfiles
    templates: TemplateStore
    _has: dict[tuple[str, str, Channel], bool]

    @classmethod
    def load(cls, config: OracleConfig) -> Loaded:
        return cls(
            catalog=CampaignCatalog.load(_existing(config.campaigns_dir)),
            shops=ShopProfiles.load(_existing(config.shops_dir)),
            templates=TemplateStore.load(_existing(config.templates_dir)),
            _has={},
        )

    def has_template(self, shop_id: str, template_id: str, channel: Channel) -> bool:
        key = (shop_id, template_id, channel)
        found = self._has.get(key)
        if found is None:
            found = self._has[key] = self.templates.has(shop_id, template_id, channel.value)
        return found
