"""A validated set of campaigns, indexed the way the decision functions look them up."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from services.triggers.campaigns.model import Campaign, CampaignFile, Kind, Settings


@dataclass(frozen=True)
class CampaignSet:
    """One shop's campaigns (disabled ones included, so open journeys can be closed)."""

    settings: Settings
    by_id: Mapping[str, Campaign]
    by_event: Mapping[str, tuple[Campaign, ...]] = field(default_factory=dict)
    by_segment: Mapping[str, tuple[Campaign, ...]] = field(default_factory=dict)
    occasions: tuple[Campaign, ...] = ()
    default_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))

    @classmethod
    def from_file(cls, config: CampaignFile) -> CampaignSet:
        by_event: defaultdict[str, list[Campaign]] = defaultdict(list)
        by_segment: defaultdict[str, list[Campaign]] = defaultdict(list)
        occasions: list[Campaign] = []
        for campaign in config.campaigns.values():
            if not campaign.enabled:
                continue
            for name in campaign.entry.events:
                by_event[name].append(campaign)
            if campaign.kind is Kind.SEGMENT_ENTRY and campaign.entry.segment is not None:
                by_segment[campaign.entry.segment].append(campaign)
            if campaign.kind is Kind.OCCASION:
                occasions.append(campaign)
        return cls(
            settings=config.settings,
            by_id=dict(config.campaigns),
            by_event={k: tuple(v) for k, v in by_event.items()},
            by_segment={k: tuple(v) for k, v in by_segment.items()},
            occasions=tuple(occasions),
            default_zone=ZoneInfo(config.settings.default_time_zone),
        )

    def for_shop(self, shop_id: str) -> CampaignSet:
        """A set is its own catalog, so tests and single-shop tools can pass one directly."""
        return self

    def enabled(self, campaign_id: str) -> Campaign | None:
        campaign = self.by_id.get(campaign_id)
        return campaign if campaign is not None and campaign.enabled else None
