"""Campaigns as configuration: the file format, its loader, and the default catalog."""

from services.triggers.campaigns.catalog import CampaignSet
from services.triggers.campaigns.loader import (
    CampaignConfigError,
    default_campaigns,
    load_campaigns,
    parse_campaigns,
)
from services.triggers.campaigns.model import (
    Campaign,
    CampaignFile,
    Condition,
    Entry,
    ExitRule,
    Kind,
    ReEntry,
    Step,
    Variant,
)
from services.triggers.campaigns.shop_catalog import CampaignCatalog
from shared.yaml_source import ConfigIssue

__all__ = [
    "Campaign",
    "CampaignCatalog",
    "CampaignConfigError",
    "CampaignFile",
    "CampaignSet",
    "Condition",
    "ConfigIssue",
    "Entry",
    "ExitRule",
    "Kind",
    "ReEntry",
    "Step",
    "Variant",
    "default_campaigns",
    "load_campaigns",
    "parse_campaigns",
]
