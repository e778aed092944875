"""What a decision asks the runtime to do; plain values, so the decisions stay pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.events.triggers import TriggerExpired, TriggerFired

if TYPE_CHECKING:
    from services.triggers.journeys.state import CustomerState


@dataclass(frozen=True, slots=True)
class FireStep:
    """Publish `data` as a `trigger.fired` record whose envelope id is `trigger_id`."""

    trigger_id: str
    shop_id: str
    customer_id: str
    data: TriggerFired


@dataclass(frozen=True, slots=True)
class ExpireStep:
    """The step was found due too late: record it (same id as it would have fired under)."""

    trigger_id: str
    shop_id: str
    customer_id: str
    data: TriggerExpired


@dataclass(frozen=True, slots=True)
class JourneyEntered:
    campaign_id: str
    journey_id: str


@dataclass(frozen=True, slots=True)
class JourneyExited:
    """A journey ended: an exit rule's name, `completed` or `campaign_disabled`."""

    campaign_id: str
    journey_id: str
    reason: str


Action = FireStep | ExpireStep | JourneyEntered | JourneyExited


@dataclass(frozen=True, slots=True)
class Decision:
    state: CustomerState
    actions: tuple[Action, ...] = ()
