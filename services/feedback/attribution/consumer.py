"""Attribution's consumer: touches and orders from the topics, conversions onto
`conversions.v1`.

Per poll (shared/polls.py commits it only once `handle` returned): the touches are stored
first, so an order in the same poll sees them; then each order is looked up, and one credited
before keeps its conversion (a replay decides nothing again); the others are decided, their
conversions stored (unique per shop and order), published, and marked published. A crash or an
outage anywhere in between gives the poll back: what was stored stays, what was not published
is published when the poll is read again, under the same event id.

Bad records never hold up their neighbours. One that does not parse is skipped (counted as
`invalid`): the index reads the same topics with the same parsers and parks it, so each bad
record has one dead letter, and `nudge dlq replay` brings it back to both consumers once. One
that PostgreSQL refuses here is parked by attribution itself, with the database's reason.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Sequence
from typing import Final, Protocol, TypeVar

import orjson
from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from services.feedback.attribution import metrics
from services.feedback.attribution.decide import (
    Credit,
    conversion_event,
    decide,
    known_messages,
)
from services.feedback.attribution.parts import AttributionParts
from services.feedback.attribution.store import TouchLimits, conversion_key
from services.feedback.attribution.touches import MessageInfo, Order, Touch, read_event
from services.feedback.directory import ContactRef, Directory
from services.feedback.parts import Publisher
from shared.clock import Clock
from shared.db import errors as db_errors
from shared.dead_letters import Parked, park
from shared.events import parse_feedback_event, parse_message_event, parse_shop_event
from shared.events.conversions import ConversionAttributedEvent
from shared.polls import Record, consume_once
from shared.topics import CONVERSIONS, FEEDBACK_EVENTS, MESSAGES_STATUS, SHOP_EVENTS

TOPICS: Final = (SHOP_EVENTS.name, MESSAGES_STATUS.name, FEEDBACK_EVENTS.name)
"""What attribution reads: the index reads them too, and parks the records that do not parse."""
SERVICE: Final = "feedback-attribution"
_PARSERS = {
    SHOP_EVENTS.name: parse_shop_event,
    MESSAGES_STATUS.name: parse_message_event,
    FEEDBACK_EVENTS.name: parse_feedback_event,
}
WANTED_TYPES: Final = frozenset(
    {"order.placed", "message.sent", "message.delivered", "message.opened", "message.clicked"}
)
"""The only types attribution reads; the others are not parsed in full."""
SWEEP_EVERY_S: Final = 60.0
T = TypeVar("T")


class Parking(Protocol):
    """Where dead letters go (the service's producer): done once the broker has them."""

    def delivery(self, topic: str, value: bytes, key: str | bytes | None) -> Awaitable[None]: ...


class Attributor:
    def __init__(
        self,
        consumer: AIOKafkaConsumer | None,
        parking: Parking,
        publisher: Publisher,
        attribution: AttributionParts,
        directory: Directory,
        clock: Clock,
    ) -> None:
        self.consumer = consumer
        self.parking = parking
        self.publisher = publisher
        self.policies = attribution.policies
        self.store = attribution.store
        self.directory = directory
        self.clock = clock
        self.keep = TouchLimits.for_windows(attribution.policies.longest).keep
        self._swept_at: float | None = None

    async def run_once(self, timeout_ms: int = 500, max_records: int = 1000) -> int:
        assert self.consumer is not None
        return await consume_once(
            self.consumer,
            self.handle,
            timeout_ms=timeout_ms,
            max_records=max_records,
            given_back=metrics.POLLS_GIVEN_BACK.inc,
        )

    async def handle(self, records: Sequence[Record]) -> None:
        """Store the touches, credit the orders, park what PostgreSQL refuses; return once the
        conversions and the dead letters are acknowledged (raise, and the poll is read
        again)."""
        parked: list[Parked] = []
        touches: list[tuple[Record, Touch]] = []
        orders: list[tuple[Record, Order]] = []
        for record in records:
            try:
                found = _read(record)
            except (ValidationError, ValueError):
                metrics.RECORDS.labels(record.topic, "invalid").inc()  # the index parks it
                continue
            if isinstance(found, Touch):
                touches.append((record, found))
            elif isinstance(found, Order):
                orders.append((record, found))
            else:
                metrics.RECORDS.labels(record.topic, "ignored").inc()
        refused = await _each_or_refused(touches, self.store.record)
        parked += [_park(record, f"cannot be stored: {why}") for record, why in refused]
        for record, _ in touches:
            metrics.RECORDS.labels(record.topic, "touch").inc()
        parked += await self._attribute(orders)
        await asyncio.gather(*(self.parking.delivery(p.topic, p.value, p.key) for p in parked))
        await self._sweep()

    async def _attribute(self, orders: Sequence[tuple[Record, Order]]) -> list[Parked]:
        """Credit the orders not credited before, and publish whatever conversion of theirs
        is not on the topic yet; the dead letters of those PostgreSQL refused."""
        if not orders:
            return []
        first: dict[tuple[str, str], tuple[Record, Order]] = {}
        for record, order in orders:
            metrics.RECORDS.labels(record.topic, "order").inc()
            first.setdefault(order.key, (record, order))
        held = await self.store.conversions(first.keys())
        metrics.ORDERS.labels("held").inc(len(held))
        fresh = [item for key, item in first.items() if key not in held]
        decided = await self._decide([order for _, order in fresh])
        new = [(record, decided[order.key]) for record, order in fresh if order.key in decided]
        refused = await _each_or_refused(new, self.store.add)
        parked = [_park(record, f"cannot be stored: {why}") for record, why in refused]
        held = await self.store.conversions(first.keys())
        pending = [c.event for c in held.values() if not c.published]
        if pending:
            await self.publisher.publish(pending, topic=CONVERSIONS.name)
            await self.store.mark_published([conversion_key(event) for event in pending])
            metrics.PUBLISHED.inc(len(pending))
        return parked

    async def _decide(
        self, orders: Sequence[Order]
    ) -> dict[tuple[str, str], ConversionAttributedEvent]:
        """Each order's conversion, for those a message earns."""
        if not orders:
            return {}
        since = min(o.at - self.policies.for_shop(o.shop_id).longest for o in orders)
        touches = await self.store.touches({(o.shop_id, o.customer_id) for o in orders}, since)
        by_customer: dict[tuple[str, str], list[Touch]] = defaultdict(list)
        for touch in touches:
            by_customer[touch.shop_id, touch.customer_id].append(touch)
        messages = await self._messages(touches)
        found: dict[tuple[str, str], ConversionAttributedEvent] = {}
        for order in orders:
            policy = self.policies.for_shop(order.shop_id)
            decision = decide(
                order, by_customer[order.shop_id, order.customer_id], messages, policy
            )
            if isinstance(decision, Credit):
                found[order.key] = conversion_event(order, decision)
                metrics.ORDERS.labels("attributed").inc()
            else:
                metrics.ORDERS.labels(decision.value).inc()
        return found

    async def _messages(self, touches: Collection[Touch]) -> dict[str, MessageInfo]:
        """What each touched message was: from the touches (deliveries say), else from the
        directory (every message dispatch reported sent), when it is that customer's."""
        messages = known_messages(touches)
        unknown = {t.message_id: t for t in touches if t.message_id not in messages}
        for message_id, touch in unknown.items():
            sent = await self.directory.message(message_id)
            if sent is not None and sent.ref == ContactRef(touch.shop_id, touch.customer_id):
                messages[message_id] = MessageInfo(
                    message_id, sent.channel, sent.campaign_id, sent.trigger_id, sent.transactional
                )
        return messages

    async def _sweep(self) -> None:
        """Now and then, forget the touches of customers gone quiet."""
        now = time.monotonic()
        if self._swept_at is not None and now - self._swept_at < SWEEP_EVERY_S:
            return
        self._swept_at = now
        await self.store.prune(self.clock.now() - self.keep)


def _read(record: Record) -> Touch | Order | None:
    """The touch or order a record is; None for the types attribution does not read. Raises
    ValueError (pydantic's ValidationError is one) for a record that does not parse."""
    raw = record.value or b""
    peek = orjson.loads(raw)  # orjson.JSONDecodeError is a ValueError
    parse = _PARSERS.get(record.topic)
    if parse is None or not isinstance(peek, dict) or peek.get("type") not in WANTED_TYPES:
        return None
    return read_event(parse(raw))


async def _each_or_refused(
    items: Sequence[tuple[Record, T]], write: Callable[[Sequence[T]], Awaitable[None]]
) -> list[tuple[Record, str]]:
    """Write all at once; when PostgreSQL refuses a row, each alone. The refused ones, with
    the database's reason (an outage raises: the poll is read again)."""
    if not items:
        return []
    try:
        await write([item for _, item in items])
        return []
    except Exception as exc:
        if not db_errors.is_permanent(exc):
            raise
    refused = []
    for record, item in items:
        try:
            await write([item])
        except Exception as exc:
            if not db_errors.is_permanent(exc):
                raise
            refused.append((record, db_errors.describe(exc)))
    return refused


def _park(record: Record, reason: str) -> Parked:
    metrics.RECORDS.labels(record.topic, "parked").inc()
    return park(record, service=SERVICE, reason=reason)
