"""What attribution reads from the topics: touches, orders and what a message was.

`read_event` is pure: one parsed event in, the touch or order it is (or None) out. Which
status counts as an email's or an SMS's delivery, and that machine opens and clicks are no
touches, is decided here (the package docstring says why).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shared.events import FeedbackEvent, MessageEvent, ShopEvent
from shared.events import catalog as shop_events
from shared.events import feedback as fb
from shared.events.conversions import TouchKind
from shared.events.messages import MessageDeliveredEvent, MessageSentEvent
from shared.events.shop import Channel
from shared.events.types import Money


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """What a message was: enough to credit it, and to know whether it may be credited."""

    message_id: str
    channel: Channel
    campaign_id: str
    trigger_id: str | None
    transactional: bool


@dataclass(frozen=True, slots=True)
class Touch:
    """A message reached its customer: delivered, opened or clicked, at `at`."""

    shop_id: str
    customer_id: str
    touch_id: str
    """The id of the event that said so: recording it again changes nothing."""
    message_id: str
    kind: TouchKind
    at: datetime
    channel: Channel | None
    """None for a click the tracking link could not tell the channel of (the message's
    own record says it)."""
    message: MessageInfo | None = None
    """What the message was, when the event said (a delivery does; opens and clicks name only
    the message, which `decide` looks up among the other touches, then in the directory)."""


@dataclass(frozen=True, slots=True)
class Order:
    """An order placed by a known customer: what may be credited."""

    shop_id: str
    customer_id: str
    order_id: str
    order_number: str | None
    at: datetime
    revenue: Money
    event_id: str

    @property
    def key(self) -> tuple[str, str]:
        return self.shop_id, self.order_id


def read_event(event: ShopEvent | MessageEvent | FeedbackEvent) -> Touch | Order | None:
    """The touch or order an event is, or None for every other event (and for anonymous
    visitors' orders, which are out of scope)."""
    customer = event.customerid
    if customer is None:
        return None
    if isinstance(event, shop_events.OrderPlacedEvent):
        order = event.data
        return Order(
            event.shopid,
            customer,
            order.order_id,
            order.order_number,
            event.time,
            order.total,
            event.id,
        )
    if isinstance(event, MessageSentEvent | MessageDeliveredEvent):
        update = event.data
        channel = update.channel
        delivered = isinstance(event, MessageDeliveredEvent) or channel is Channel.EMAIL
        if channel is None or not delivered:
            return None  # an SMS the provider took is not delivered yet
        info = MessageInfo(
            update.message_id,
            channel,
            update.campaign_id,
            update.trigger_id,
            update.transactional,
        )
        return Touch(
            event.shopid,
            customer,
            event.id,
            update.message_id,
            TouchKind.DELIVERY,
            event.time,
            channel,
            info,
        )
    if isinstance(event, fb.MessageOpenedEvent | fb.MessageClickedEvent):
        engagement = event.data
        message_id = engagement.message.message_id
        if engagement.machine or message_id is None:
            return None
        kind = TouchKind.CLICK if isinstance(event, fb.MessageClickedEvent) else TouchKind.OPEN
        return Touch(
            event.shopid, customer, event.id, message_id, kind, event.time, engagement.channel
        )
    return None
