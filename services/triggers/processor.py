"""What the triggers worker does with each record: decode, decide, emit, then store.

Kept apart from Faust so that the ordering rules are plain code: the state and the timer
table are plain mappings here (Faust tables in the worker, dicts in unit tests), and
`Outbox` is whatever sends records. The order of effects is what makes restarts safe:

1. a fired step's record is acknowledged by the broker *before* the state that says "fired"
   is written, so a crash in between fires the same trigger id again (dispatch sends once)
   instead of losing it;
2. the state and the timer entry are written together, and the in-memory index follows (the
   timer entry only when its due time changed: an equal one is in the table already).
"""

from __future__ import annotations

import base64
import logging
import struct
from collections.abc import Callable, MutableMapping
from datetime import UTC, datetime
from typing import ParamSpec, Protocol, TypeVar

from pydantic import ValidationError

from services.triggers import commands, metrics
from services.triggers.campaigns import CampaignCatalog
from services.triggers.journeys import (
    CustomerState,
    Decision,
    ExpireStep,
    FireStep,
    JourneyEntered,
    JourneyExited,
    decide,
    fire_due,
    merge_identified,
)
from services.triggers.timer_index import TimerIndex
from shared.clock import Clock
from shared.events import (
    DeadLetter,
    EventEnvelope,
    FeedbackEvent,
    SegmentEvent,
    ShopEvent,
    parse_feedback_event,
    parse_segment_event,
    parse_shop_event,
    record_key,
)
from shared.events.catalog import CustomerIdentifiedEvent
from shared.events.triggers import (
    JourneyExited as JourneyExitedRecord,
)
from shared.events.triggers import (
    JourneyExitedEvent,
    TriggerExpiredEvent,
    TriggerFiredEvent,
    trigger_id,
)
from shared.topics import (
    FEEDBACK_EVENTS,
    SEGMENTS_CHANGES,
    SHOP_EVENTS,
    SHOP_EVENTS_DLQ,
    TRIGGERS_COMMANDS,
    TRIGGERS_FIRED,
)

log = logging.getLogger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

InputEvent = ShopEvent | FeedbackEvent | SegmentEvent

_PARSERS = {
    SHOP_EVENTS.name: parse_shop_event,
    FEEDBACK_EVENTS.name: parse_feedback_event,
    SEGMENTS_CHANGES.name: parse_segment_event,
}
_DUE = struct.Struct(">d")
QUIET_EXITS = frozenset({"completed"})
"""Journey ends that are not news: every other exit is published as `journey.exited`."""
SOURCE = "/services/triggers"


class Outbox(Protocol):
    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        """Send a record and return once the broker acknowledged it."""
        ...

    async def send_command(self, key: bytes, value: bytes) -> None:
        """Send a record to the commands topic (need not wait for the acknowledgement)."""
        ...


def pack_due(due: float) -> bytes:
    return _DUE.pack(due)


def unpack_due(raw: bytes) -> float:
    return float(_DUE.unpack(raw)[0])


class Processor:
    def __init__(
        self,
        *,
        states: MutableMapping[bytes, bytes],
        timers: MutableMapping[bytes, bytes],
        index: TimerIndex,
        catalog: CampaignCatalog,
        clock: Clock,
        outbox: Outbox,
    ) -> None:
        self.states = states
        self.timers = timers
        self.index = index
        self.catalog = catalog
        self.clock = clock
        self.outbox = outbox

    async def on_record(
        self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None
    ) -> None:
        """Handle one input record.

        Bad input, and a bug met while deciding, park the record on the dead-letter topic and
        the stream goes on (invariant 4). A failure to publish is not the record's fault: it
        propagates, so the record is not marked done (the outbox itself retries first).
        """
        try:
            if key is None or value is None:
                raise ValueError("record without key or value")
            if topic == TRIGGERS_COMMANDS.name:
                await self._on_command(key, commands.decode(value))
            else:
                await self._on_event(key, _PARSERS[topic](value))
        except (ValidationError, ValueError, KeyError, UnicodeDecodeError) as exc:
            await self._park(topic, partition, offset, key, value, _reason(exc))
        except DecisionFailed as exc:
            log.error("cannot decide on %s[%d]@%d", topic, partition, offset, exc_info=exc.cause)
            await self._park(topic, partition, offset, key, value, str(exc))
        else:
            metrics.RECORDS.labels(topic, "processed").inc()

    async def _on_event(self, key: bytes, event: InputEvent) -> None:
        expected = record_key(event.shopid, event.customerid, event.anonymousid)
        if key.decode() != expected:
            raise ValueError(f"record key {key.decode()!r} does not match the event ({expected!r})")
        if isinstance(event, CustomerIdentifiedEvent) and event.customerid is None:
            await self._hand_over_visitor(key, event)
            return
        state = self._load(key)
        await self._apply(key, _deciding(decide, state, event, self.clock.now(), self.catalog))

    async def _on_command(self, key: bytes, command: commands.Command) -> None:
        if isinstance(command, commands.MergeVisitor):
            visitor = CustomerState.from_bytes(command.visitor_state)
            customer_id = key.decode().split(":", 1)[1]
            merged = _deciding(merge_identified, visitor, self._load(key), customer_id)
            await self._apply(key, Decision(state=merged, actions=()))
            return
        state = self._load(key)
        if state is None:  # the customer's state was removed meanwhile: nothing is due
            self._store_timer(key, None)
            return
        await self._apply(key, _deciding(fire_due, state, self.clock.now(), self.catalog))

    async def _hand_over_visitor(self, key: bytes, event: CustomerIdentifiedEvent) -> None:
        """Move the visitor's state to the customer's key, through the commands topic."""
        raw = self.states.get(key)
        if raw is None:
            return
        customer_key = record_key(event.shopid, event.data.customer_id, None).encode()
        await self.outbox.send_command(customer_key, commands.encode(commands.MergeVisitor(raw)))
        del self.states[key]
        self._store_timer(key, None)

    async def _apply(self, key: bytes, decision: Decision) -> None:
        for action in decision.actions:
            await self._act(key, action)
        state = decision.state
        self.states[key] = state.to_bytes()
        next_due = state.next_due_at()
        self._store_timer(key, next_due.timestamp() if next_due is not None else None)

    async def _act(
        self, key: bytes, action: FireStep | ExpireStep | JourneyEntered | JourneyExited
    ) -> None:
        if isinstance(action, FireStep | ExpireStep):
            kind = TriggerFiredEvent if isinstance(action, FireStep) else TriggerExpiredEvent
            await self._publish(
                kind.model_validate(
                    {
                        "id": action.trigger_id,
                        "source": SOURCE,
                        "time": self.clock.now(),
                        "subject": f"{action.data.campaign_id}/{action.data.step_id}",
                        "shopid": action.shop_id,
                        "customerid": action.customer_id,
                        "data": action.data,
                    }
                )
            )
            if isinstance(action, FireStep):
                metrics.FIRED.labels(action.data.campaign_id).inc()
                lateness = -self.clock.seconds_until(action.data.due_at)
                metrics.TIMER_LATENESS.observe(max(lateness, 0.0))
            else:
                metrics.EXPIRED.labels(action.data.campaign_id).inc()
        elif isinstance(action, JourneyEntered):
            metrics.ENTERED.labels(action.campaign_id).inc()
        else:
            metrics.EXITED.labels(action.campaign_id, action.reason).inc()
            if action.reason not in QUIET_EXITS:
                await self._publish_exit(key, action)

    async def _publish_exit(self, key: bytes, action: JourneyExited) -> None:
        shop_id, who = key.decode().split(":", 1)
        customer_id, anonymous_id = (None, who[5:]) if who.startswith("anon:") else (who, None)
        step = f"exit:{action.reason}"
        exited = JourneyExitedEvent(
            id=trigger_id(shop_id, who, action.campaign_id, action.journey_id, step),
            source=SOURCE,
            time=self.clock.now(),
            subject=f"{action.campaign_id}/{action.reason}",
            shopid=shop_id,
            customerid=customer_id,
            anonymousid=anonymous_id,
            data=JourneyExitedRecord(
                campaign_id=action.campaign_id,
                journey_id=action.journey_id,
                reason=action.reason,
            ),
        )
        await self._publish(exited)

    async def _publish(self, record: EventEnvelope) -> None:
        """One record on triggers.fired.v1, acknowledged before the caller goes on."""
        value = record.model_dump_json(exclude_none=True).encode()
        await self.outbox.publish(TRIGGERS_FIRED.name, record.key.encode(), value)

    def _load(self, key: bytes) -> CustomerState | None:
        raw = self.states.get(key)
        return CustomerState.from_bytes(raw) if raw is not None else None

    def _store_timer(self, key: bytes, due: float | None) -> None:
        name = key.decode()
        if due is None:
            if key in self.timers:
                del self.timers[key]
        elif self.index.get(name) == due:
            return  # the table holds this due time already (the index follows the table)
        else:
            self.timers[key] = pack_due(due)
        self.index.set(name, due)
        metrics.TIMERS_PENDING.set(len(self.index))

    def rebuild_index(self) -> None:
        """Refill the index from the timer table (after a rebalance or a restart)."""
        self.index.clear()
        for key, raw in self.timers.items():
            self.index.set(key.decode(), unpack_due(raw))
        metrics.TIMERS_PENDING.set(len(self.index))

    async def tick(self, limit: int) -> int:
        """Send a due command for each customer whose earliest step is due; return how many."""
        due = self.index.pop_due(self.clock.now().timestamp(), limit)
        for position, (key, _due) in enumerate(due):
            try:
                await self.outbox.send_command(key.encode(), commands.encode(commands.TimerDue()))
            except Exception:
                for unsent_key, unsent_due in due[position:]:  # retried on the next tick
                    self.index.set(unsent_key, unsent_due)
                raise
        metrics.TIMERS_PENDING.set(len(self.index))
        return len(due)

    async def _park(
        self,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        reason: str,
    ) -> None:
        payload, encoding = _as_text(value or b"")
        letter = DeadLetter(
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            key=key.decode(errors="replace") if key is not None else None,
            service="triggers",
            reason=reason[:10_000],
            payload=payload,
            payload_encoding=encoding,
            parked_at=datetime.now(UTC),
        )
        await self.outbox.publish(
            SHOP_EVENTS_DLQ.name, key or b"", letter.model_dump_json(exclude_none=True).encode()
        )
        metrics.RECORDS.labels(topic, "dead_lettered").inc()


class DecisionFailed(Exception):
    """The decision code raised: a bug, reported with the record parked, never a crash loop."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(f"internal error: {cause!r}")
        self.cause = cause


def _deciding(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    try:
        return function(*args, **kwargs)
    except Exception as exc:
        raise DecisionFailed(exc) from exc


def _as_text(value: bytes) -> tuple[str, str]:
    try:
        return value.decode(), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(value).decode(), "base64"


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_url=False, include_input=False)
        parts = [f"{'.'.join(str(p) for p in e['loc']) or '(record)'}: {e['msg']}" for e in errors]
        return "invalid record: " + "; ".join(parts[:20])
    return f"invalid record: {exc}"
