"""Campaign steps that became due, as records of `triggers.fired.v1`.

Written by the triggers service; read by dispatch, which turns each `trigger.fired` into at most
one message per channel and ignores the other types (`trigger.expired`, `journey.exited`), which
are there for analysts and operators. The envelope id is the trigger id: derived from shop,
customer, campaign, journey instance and step, so a replay or a restart that fires the same step
again produces the same id, and dispatch's unique key on it makes the send happen once.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Annotated, Final, Literal

from pydantic import Field, TypeAdapter

from shared.events.envelope import EventEnvelope
from shared.events.feedback import CategoryId, SurveyKind
from shared.events.name_ids import NameIds
from shared.events.shop import Channel, Items, ProductRef, ShipmentStatus
from shared.events.types import HttpUrl, Id, Model, Money, Timestamp

_TRIGGER_IDS = NameIds(uuid.UUID("0b8e9c1e-3f55-4a8c-b1d2-7c6a5e4f3a10"))

CampaignId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
StepId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
TemplateId = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_./-]{0,127}$")]


def trigger_id(shop_id: str, customer_id: str, campaign_id: str, journey_id: str, step: str) -> str:
    """The deterministic id of one step of one journey instance for one customer."""
    name = "\x1f".join((shop_id, customer_id, campaign_id, journey_id, step))
    return _TRIGGER_IDS(name)


class Engagement(StrEnum):
    OPENED = "opened"
    CLICKED = "clicked"
    REPLIED = "replied"


class FallbackRule(Model):
    """Send on `channel` instead when the customer did not engage with the previous message.

    "Previous message" is this journey's last message on the step's first channel; dispatch
    keeps the message log and the engagement it needs to decide.
    """

    channel: Channel
    unless: Engagement
    within_hours: Annotated[int, Field(ge=1, le=24 * 30)]


class CartSnapshot(Model):
    cart_id: Id | None = None
    items: Items
    value: Money | None = None
    recovery_url: HttpUrl | None = None


class OrderSnapshot(Model):
    order_id: Id
    order_number: Annotated[str, Field(max_length=64)] | None = None
    items: Items
    total: Money
    status_url: HttpUrl | None = None
    first_order: bool = False


class ShipmentSnapshot(Model):
    order_id: Id
    shipment_id: Id
    status: ShipmentStatus | None = None
    carrier: Annotated[str, Field(max_length=255)] | None = None
    tracking_number: Annotated[str, Field(max_length=255)] | None = None
    tracking_url: HttpUrl | None = None
    estimated_delivery_at: Timestamp | None = None


class RecommendationSeed(Model):
    """What recommendations should be based on; dispatch (or a future recommender) fills them."""

    strategy: Literal["same_category", "cart_based", "bought_together", "newest", "personal"]
    product_ids: Annotated[list[Id], Field(max_length=50)] = Field(default_factory=list)
    categories: Annotated[list[Annotated[str, Field(max_length=255)]], Field(max_length=20)] = (
        Field(default_factory=list)
    )


class TriggerContext(Model):
    """Everything the step's template needs that the contact store does not already hold."""

    cart: CartSnapshot | None = None
    order: OrderSnapshot | None = None
    shipment: ShipmentSnapshot | None = None
    product: ProductRef | None = None
    products: Annotated[list[ProductRef], Field(max_length=50)] = Field(default_factory=list)
    """Products the message is about besides `product`, e.g. previous purchases for win-back."""
    recommendations: RecommendationSeed | None = None
    segment_id: Annotated[str, Field(max_length=100)] | None = None
    occasion: Literal["birthday", "first_purchase_anniversary"] | None = None
    incentive_code: Annotated[str, Field(max_length=64)] | None = None


class TriggerFired(Model):
    campaign_id: CampaignId
    journey_id: Id
    """One instance of the campaign for this customer (a cart, an order, a segment entry...)."""
    step_id: StepId
    step_index: Annotated[int, Field(ge=0)]
    transactional: bool
    """Transactional steps ignore marketing consent, quiet hours and caps (an address is needed)."""
    channels: Annotated[list[Channel], Field(min_length=1, max_length=2)]
    """Channels in order of preference; dispatch falls back along this list."""
    fallback: FallbackRule | None = None
    template_id: TemplateId
    variant: Annotated[str, Field(max_length=32)] | None = None
    """The A/B variant, assigned stably per customer by the triggers service."""
    due_at: Timestamp
    expires_at: Timestamp | None = None
    """After this moment the message is no longer worth sending (a cart reminder days late)."""
    category: CategoryId | None = None
    """The campaign's category: a customer who dropped it on the preference page gets none."""
    survey: SurveyKind | None = None
    """The step asks for an answer: dispatch signs a survey invitation (`links.survey`)."""
    context: TriggerContext = TriggerContext()


class TriggerExpired(Model):
    """A step found due too late to be worth sending: recorded for analysts, never sent."""

    campaign_id: CampaignId
    journey_id: Id
    step_id: StepId
    step_index: Annotated[int, Field(ge=0)]
    due_at: Timestamp
    max_lateness_s: Annotated[int, Field(ge=0)]


class JourneyExited(Model):
    """A journey ended early because an exit rule matched: its remaining steps never fire.

    The record that makes the safety switches visible: e.g. `abandoned_cart` exited with
    `order_placed` the moment the order arrived.
    """

    campaign_id: CampaignId
    journey_id: Id
    reason: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,64}$")]


class TriggerFiredEvent(EventEnvelope):
    type: Literal["trigger.fired"] = "trigger.fired"
    data: TriggerFired


class TriggerExpiredEvent(EventEnvelope):
    type: Literal["trigger.expired"] = "trigger.expired"
    data: TriggerExpired


class JourneyExitedEvent(EventEnvelope):
    type: Literal["journey.exited"] = "journey.exited"
    data: JourneyExited


TriggerEvent = Annotated[
    TriggerFiredEvent | TriggerExpiredEvent | JourneyExitedEvent, Field(discriminator="type")
]

TRIGGER_EVENT: Final[TypeAdapter[TriggerEvent]] = TypeAdapter(TriggerEvent)


def parse_trigger_event(raw: bytes | str) -> TriggerEvent:
    """Parse one record value of `triggers.fired.v1`; raises pydantic.ValidationError."""
    return TRIGGER_EVENT.validate_json(raw)
