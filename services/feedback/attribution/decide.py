"""The pure decision: which message, if any, earns an order (the package docstring has the
rules), and the `conversion.attributed` event that says so."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Final

from services.feedback.attribution.policy import AttributionPolicy
from services.feedback.attribution.touches import MessageInfo, Order, Touch
from shared.events.conversions import (
    AttributedMessage,
    AttributionModel,
    ConversionAttributed,
    ConversionAttributedEvent,
    TouchKind,
    conversion_event_id,
)

KIND_RANK: Final[Mapping[TouchKind, int]] = {
    TouchKind.DELIVERY: 0,
    TouchKind.OPEN: 1,
    TouchKind.CLICK: 2,
}
"""At equal times, the stronger touch wins."""
SOURCE: Final = "/shops/{shop_id}/attribution"


class NoCredit(StrEnum):
    """Why an order was credited to no message."""

    NO_TOUCH = "no_touch"
    """No touch of this customer lies within its window before the order."""
    TRANSACTIONAL_ONLY = "transactional_only"
    """Only touches of transactional messages (or of messages of unknown kind) qualified."""


@dataclass(frozen=True, slots=True)
class Credit:
    """The order goes to this touch of this message."""

    touch: Touch
    message: MessageInfo
    window: timedelta
    model: AttributionModel


def known_messages(touches: Iterable[Touch]) -> dict[str, MessageInfo]:
    """What the touches themselves say about their messages (deliveries say it)."""
    return {t.message_id: t.message for t in touches if t.message is not None}


def decide(
    order: Order,
    touches: Iterable[Touch],
    messages: Mapping[str, MessageInfo],
    policy: AttributionPolicy,
) -> Credit | NoCredit:
    """The touch that earns `order` under `policy`, or why none does. `messages`: what each
    touched message was (a message missing there earns nothing: it may be transactional)."""
    in_window = [t for t in touches if _in_window(t, order, policy)]
    creditable = [
        t
        for t in in_window
        if (info := messages.get(t.message_id)) is not None and not info.transactional
    ]
    if not creditable:
        return NoCredit.TRANSACTIONAL_ONLY if in_window else NoCredit.NO_TOUCH
    # The model is last touch (the only one): the latest, the stronger kind at equal times.
    best = max(creditable, key=lambda t: (t.at, KIND_RANK[t.kind], t.message_id))
    return Credit(best, messages[best.message_id], policy.windows[best.kind], policy.model)


def _in_window(touch: Touch, order: Order, policy: AttributionPolicy) -> bool:
    window = policy.windows.get(touch.kind)
    return (
        window is not None
        and touch.shop_id == order.shop_id
        and touch.customer_id == order.customer_id
        and touch.at < order.at
        and order.at - touch.at <= window
    )


def conversion_event(order: Order, credit: Credit) -> ConversionAttributedEvent:
    """The record of `conversions.v1` for a credited order (its id derives from the order)."""
    info = credit.message
    return ConversionAttributedEvent(
        id=conversion_event_id(order.shop_id, order.order_id),
        source=SOURCE.format(shop_id=order.shop_id),
        time=order.at,
        shopid=order.shop_id,
        customerid=order.customer_id,
        data=ConversionAttributed(
            order_id=order.order_id,
            order_number=order.order_number,
            revenue=order.revenue,
            message=AttributedMessage(
                message_id=info.message_id,
                campaign_id=info.campaign_id,
                trigger_id=info.trigger_id,
                channel=info.channel,
            ),
            touch=credit.touch.kind,
            touched_at=credit.touch.at,
            window=credit.window,
            model=credit.model,
            order_event_id=order.event_id,
        ),
    )
