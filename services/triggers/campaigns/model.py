"""The shape of a shop's campaign file, as pydantic models.

Shape only: rules that relate several fields (delays in order, entry events that fit the
campaign's kind...) live in `rules.py`, so that each finding can name the exact field.
"""

from __future__ import annotations

import re
from datetime import time, timedelta
from enum import StrEnum
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from services.triggers.campaigns.durations import Duration, parse_duration
from shared.events.feedback import CategoryId, SurveyKind
from shared.events.segments import SegmentId
from shared.events.shop import Channel, ShipmentStatus
from shared.events.triggers import CampaignId, FallbackRule, StepId, TemplateId
from shared.events.types import TimeZoneName


class ConfigModel(BaseModel):
    """Immutable, and unknown keys are errors: a typo must not silently change behaviour."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Kind(StrEnum):
    """The behaviour family: how a campaign is entered, what its journey is about."""

    WELCOME = "welcome"
    ABANDONED_CART = "abandoned_cart"
    BROWSE_ABANDONMENT = "browse_abandonment"
    ORDER_UPDATE = "order_update"
    REVIEW_REQUEST = "review_request"
    CROSS_SELL = "cross_sell"
    REPLENISHMENT = "replenishment"
    SEGMENT_ENTRY = "segment_entry"
    OCCASION = "occasion"


class ExitRule(StrEnum):
    """Safety switches; each is a test on the customer's state (see journeys/exits.py)."""

    ORDER_PLACED = "order_placed"
    """Any order placed after the journey started."""
    CART_EMPTIED = "cart_emptied"
    ADDED_TO_CART = "added_to_cart"
    """Something was put in a cart after the journey started."""
    OPTED_OUT = "opted_out"
    """No channel the campaign uses has marketing consent (always on for marketing)."""
    SURVEY_ANSWERED = "survey_answered"
    """The customer answered the survey about the journey's order."""
    ORDER_CANCELLED = "order_cancelled"
    SEGMENT_EXITED = "segment_exited"
    REPURCHASED = "repurchased"
    """The journey's product was bought again."""


class Condition(StrEnum):
    """A step is sent only if its condition holds when it is due (else skipped)."""

    BOUGHT = "bought"
    """An order was placed since the journey started."""
    NOT_BOUGHT = "not_bought"


Strategy = Literal["same_category", "cart_based", "bought_together", "newest", "personal"]
Occasion = Literal["birthday", "first_purchase_anniversary"]
VariantId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]


class Variant(ConfigModel):
    """One arm of an A/B test; it may swap the template and the recommendation strategy."""

    id: VariantId
    weight: Annotated[float, Field(gt=0, le=1_000_000)]
    template: TemplateId | None = None
    recommendations: Strategy | None = None


class Step(ConfigModel):
    id: StepId
    delay: Duration
    """Offset from the journey's anchor (its start, or the last cart activity), not from the
    previous step: `30m`, `24h`, `72h` are three reminders at those distances."""
    channels: Annotated[list[Channel], Field(min_length=1, max_length=2)]
    fallback: FallbackRule | None = None
    template: TemplateId
    variants: Annotated[list[Variant], Field(max_length=10)] = Field(default_factory=list)
    condition: Condition | None = None
    recommendations: Strategy | None = None
    survey: SurveyKind | None = None
    """Ask for a CSAT (1-5) or NPS (0-10) answer: the message carries a signed survey link."""


def _reentry(value: object) -> object:
    """`never`, `always`, `after 7d` or just `7d`."""
    if isinstance(value, str):
        text = value.strip()
        if text in ("never", "always"):
            return {"mode": text}
        duration = text.removeprefix("after").strip()
        try:
            return {"mode": "after", "after": parse_duration(duration)}
        except ValueError:
            raise ValueError(
                f"invalid re-entry '{value}': use never, always or after <duration>, e.g. after 7d"
            ) from None
    return value


class ReEntry(ConfigModel):
    mode: Literal["never", "always", "after"]
    after: timedelta | None = None

    def allows(self, last_entry_s: int | None, now_s: int) -> bool:
        if last_entry_s is None or self.mode == "always":
            return True
        if self.mode == "never" or self.after is None:
            return False
        return now_s - last_entry_s >= self.after.total_seconds()


class Entry(ConfigModel):
    """What starts a journey: event types, a segment entry, or a yearly occasion."""

    events: Annotated[list[str], Field(max_length=20)] = Field(default_factory=list)
    segment: SegmentId | None = None
    occasion: Occasion | None = None
    at: time = time(10, 0)
    """Occasions: the local time of day to send, in the customer's time zone."""
    statuses: list[ShipmentStatus] | None = None
    """`shipment.status_changed` entries: only these carrier milestones start a journey."""


_PERIOD_KEY = re.compile(r"^(product|category):.+$")


class Campaign(ConfigModel):
    id: CampaignId
    kind: Kind
    description: Annotated[str, Field(max_length=500)] | None = None
    enabled: bool = True
    transactional: bool = False
    """Order and delivery news: sent regardless of marketing consent, quiet hours and caps."""
    category: CategoryId | None = None
    """Marketing only: the shop's category (`tips`, `offers`...) that customers may drop on
    the preference page; its label lives in the shop's feedback file."""
    entry: Entry
    steps: Annotated[list[Step], Field(min_length=1, max_length=10)]
    exit: list[ExitRule] = Field(default_factory=list)
    reentry: Annotated[ReEntry, BeforeValidator(_reentry)] = ReEntry(mode="always")
    max_lateness: Duration
    """A step found due later than this is recorded as expired instead of sent."""
    incentive_code: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    consumption_periods: dict[str, Duration] = Field(default_factory=dict)
    """Replenishment: `product:<id>` or `category:<name>` -> how long one purchase lasts."""
    own_interval: bool = True
    """Replenishment: prefer the customer's own repeat interval once 2 purchases are known."""

    # Derived once per campaign (the decision functions read these for every event).

    @cached_property
    def usable_channels(self) -> frozenset[str]:
        """Every channel any step may send on: consent on none of them means opted out."""
        found = {c.value for step in self.steps for c in step.channels}
        found |= {s.fallback.channel.value for s in self.steps if s.fallback is not None}
        return frozenset(found)

    @cached_property
    def exit_tests(self) -> tuple[ExitRule, ...]:
        """The listed exit rules in ExitRule's order, consent aside (it is always tested)."""
        return tuple(rule for rule in ExitRule if rule in self.exit and rule != "opted_out")

    @cached_property
    def delays_s(self) -> tuple[int, ...]:
        return tuple(int(step.delay.total_seconds()) for step in self.steps)

    @cached_property
    def lateness_s(self) -> int:
        return int(self.max_lateness.total_seconds())


class Settings(ConfigModel):
    default_time_zone: TimeZoneName = "UTC"
    """For customers whose time zone is unknown (birthdays, anniversaries)."""


class CampaignFile(ConfigModel):
    version: Literal[1] = 1
    extends: Literal["default"] | None = None
    settings: Settings = Settings()
    campaigns: dict[CampaignId, Campaign]

    @model_validator(mode="before")
    @classmethod
    def _ids_from_keys(cls, data: Any) -> Any:
        """A campaign's id is its key in `campaigns`, so it cannot disagree with it."""
        if isinstance(data, dict) and isinstance(data.get("campaigns"), dict):
            campaigns = {
                key: ({"id": key, **body} if isinstance(body, dict) and "id" not in body else body)
                for key, body in data["campaigns"].items()
            }
            data = {**data, "campaigns": campaigns}
        return data
