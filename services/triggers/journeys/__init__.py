"""Per-customer journey state and the pure decision functions the triggers runtime calls."""

from services.triggers.journeys.actions import (
    Action,
    Decision,
    ExpireStep,
    FireStep,
    JourneyEntered,
    JourneyExited,
)
from services.triggers.journeys.decide import CampaignSource, decide, fire_due
from services.triggers.journeys.merge import merge_identified
from services.triggers.journeys.state import CustomerState

__all__ = [
    "Action",
    "CampaignSource",
    "CustomerState",
    "Decision",
    "ExpireStep",
    "FireStep",
    "JourneyEntered",
    "JourneyExited",
    "decide",
    "fire_due",
    "merge_identified",
]
