"""Lifecycle stage: where a customer is between their first visit and leaving, and when that
changes by time alone.

lead (no order) -> first_time (one order) -> repeat (two or more) -> at_risk -> lapsed ->
churned. The last three are reached by time: past `at_risk_after` times the customer's own
repeat interval since their last order (1.5 by default), `lapsed_after` (3) and
`churned_after` (6); a customer without an interval (one order, or orders on the same day)
uses the shop's defaults in days instead (90, 180 and 365). Each shop may set its own numbers
in its segment file (`lifecycle:`). A new order brings the customer back to first_time /
repeat at once.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.segmenter.profiles.facts import DAY_S, OrderFacts

MIN_INTERVAL_DAYS = 1.0
"""A repeat interval under a day (two orders in one session) is not a rhythm: defaults apply."""


class Stage(StrEnum):
    LEAD = "lead"
    FIRST_TIME = "first_time"
    REPEAT = "repeat"
    AT_RISK = "at_risk"
    LAPSED = "lapsed"
    CHURNED = "churned"


Factor = Annotated[float, Field(gt=0, le=100)]
Days = Annotated[float, Field(gt=0, le=3650)]


class LifecycleRules(BaseModel):
    """A shop's thresholds; the order at_risk < lapsed < churned is checked."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    at_risk_after: Factor = 1.5
    lapsed_after: Factor = 3.0
    churned_after: Factor = 6.0
    default_at_risk_days: Days = 90
    default_lapsed_days: Days = 180
    default_churned_days: Days = 365

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.at_risk_after < self.lapsed_after < self.churned_after:
            raise ValueError("at_risk_after < lapsed_after < churned_after is required")
        days = (self.default_at_risk_days, self.default_lapsed_days, self.default_churned_days)
        if not days[0] < days[1] < days[2]:
            raise ValueError(
                "default_at_risk_days < default_lapsed_days < default_churned_days is required"
            )
        return self


def thresholds(facts: OrderFacts, rules: LifecycleRules) -> tuple[float, float, float]:
    """Seconds after the last order at which the customer becomes at risk, lapsed, churned."""
    interval = facts.repeat_interval_days
    if interval is not None and interval >= MIN_INTERVAL_DAYS:
        factors = (rules.at_risk_after, rules.lapsed_after, rules.churned_after)
        return tuple(interval * f * DAY_S for f in factors)  # type: ignore[return-value]
    days = (rules.default_at_risk_days, rules.default_lapsed_days, rules.default_churned_days)
    return tuple(d * DAY_S for d in days)  # type: ignore[return-value]


def stage_of(facts: OrderFacts, now: float, rules: LifecycleRules) -> tuple[Stage, float | None]:
    """The stage at `now`, and the moment it next changes without a new event (None: never)."""
    if facts.orders == 0 or facts.last_order_at is None:
        return Stage.LEAD, None
    since = now - facts.last_order_at
    at_risk, lapsed, churned = thresholds(facts, rules)
    if since >= churned:
        return Stage.CHURNED, None
    if since >= lapsed:
        return Stage.LAPSED, facts.last_order_at + churned
    if since >= at_risk:
        return Stage.AT_RISK, facts.last_order_at + lapsed
    buyer = Stage.FIRST_TIME if facts.orders == 1 else Stage.REPEAT
    return buyer, facts.last_order_at + at_risk
