"""Every shop's campaigns: the default catalog, and per-shop files that extend or replace it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.triggers.campaigns.catalog import CampaignSet
from services.triggers.campaigns.loader import (
    CampaignConfigError,
    default_campaigns,
    load_campaigns,
)
from shared.yaml_source import ConfigIssue


@dataclass(frozen=True)
class CampaignCatalog:
    default: CampaignSet = field(default_factory=default_campaigns)
    shops: Mapping[str, CampaignSet] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path | None) -> CampaignCatalog:
        """`<shop_id>.yaml` files in `directory`; every file's errors are reported together."""
        if directory is None:
            return cls()
        shops: dict[str, CampaignSet] = {}
        issues: list[ConfigIssue] = []
        for path in sorted(directory.glob("*.yaml")):
            try:
                shops[path.stem] = load_campaigns(path)
            except CampaignConfigError as exc:
                issues.extend(exc.issues)
        if issues:
            raise CampaignConfigError(issues)
        return cls(shops=shops)

    def for_shop(self, shop_id: str) -> CampaignSet:
        return self.shops.get(shop_id, self.default)
