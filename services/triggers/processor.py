"""What the triggers worker does with its records: decode, decide, emit, then store.

Kept apart from Faust so that the ordering rules are plain code: the state table is a port
(`StateTable`: Faust's table in the worker, a dict in unit tests), and `Outbox` is whatever
sends records. Records are handled in batches (one record is a batch of
one), because the broker round trips, not the decisions, are what a record-at-a-time worker
waits on. The order of effects is what makes restarts safe:

1. every record of the batch is decided in order, a customer's later record seeing the state
   its earlier one left; what they emit (fired steps, exits, hand-overs, dead letters) is
   only collected;
2. the collected records are sent and *all* acknowledged by the broker before any state is
   written, so a crash in between fires the same trigger ids again (dispatch sends once)
   instead of losing them;
3. each changed customer's last state is written through the state table, once per batch
   (shared/state_table.py: the changelog's records acknowledged, then the local store), and
   the in-memory index follows.

The state carries its next due time in its header (`due_of` reads it without decoding), so
the timer index is rebuilt from the states table after a rebalance or a restart, and no
second table has to be written when a step is scheduled or moves.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.triggers import metrics
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
from services.triggers.journeys.state import UnsupportedStateVersion, due_of
from shared import worker_commands as commands
from shared.clock import Clock
from shared.dead_letters import park
from shared.events import (
    EventEnvelope,
    FeedbackEvent,
    SegmentEvent,
    ShopEvent,
    parse_feedback_event_validated_upstream,
    parse_segment_event_validated_upstream,
    parse_shop_event_validated_upstream,
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
from shared.metric_children import child
from shared.state_table import Change, StateTable
from shared.stream_batch import (
    InputRecord,
    Outbox,
    OutputRecord,
    check_key,
    deciding,
    handle_record,
    send_due,
)
from shared.timer_index import TimerIndex
from shared.topics import (
    FEEDBACK_EVENTS,
    SEGMENTS_CHANGES,
    SHOP_EVENTS,
    TRIGGERS_COMMANDS,
    TRIGGERS_FIRED,
)

log = logging.getLogger(__name__)

InputEvent = ShopEvent | FeedbackEvent | SegmentEvent

_PARSERS = {
    SHOP_EVENTS.name: parse_shop_event_validated_upstream,
    FEEDBACK_EVENTS.name: parse_feedback_event_validated_upstream,
    SEGMENTS_CHANGES.name: parse_segment_event_validated_upstream,
}
QUIET_EXITS = frozenset({"completed"})
"""Journey ends that are not news: every other exit is published as `journey.exited`."""
SOURCE = "/services/triggers"
YIELD_EVERY = 2_000
"""States read between two yields to the event loop while the index is rebuilt: a scan of
millions must not hold up heartbeats and probes."""


@dataclass
class _Batch:
    """What a batch decided so far: the states it changed (None: removed) and its output."""

    states: dict[bytes, CustomerState | None] = field(default_factory=dict)
    records: dict[bytes, InputRecord] = field(default_factory=dict)
    """Each changed key's last record: its partition and handle go with the key's write."""
    stored: set[bytes] = field(default_factory=set)
    """Keys found in the table: only those are deleted."""
    output: list[OutputRecord] = field(default_factory=list)

    def changed(self, key: bytes, state: CustomerState | None, record: InputRecord) -> None:
        self.states[key] = state
        self.records[key] = record

    def emit(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.output.append(OutputRecord(topic, key, value))


class Processor:
    def __init__(
        self,
        *,
        states: StateTable,
        index: TimerIndex,
        catalog: CampaignCatalog,
        clock: Clock,
        outbox: Outbox,
    ) -> None:
        self.states = states
        self.index = index
        self.catalog = catalog
        self.clock = clock
        self.outbox = outbox

    async def on_record(
        self, topic: str, partition: int, offset: int, key: bytes | None, value: bytes | None
    ) -> None:
        await self.on_batch([InputRecord(topic, partition, offset, key, value)])

    async def on_batch(self, records: Sequence[InputRecord]) -> None:
        """Handle records in order: decide all, publish what they emit, then store.

        Bad input, and a bug met while deciding, park that record on the dead-letter topic and
        the others go on (invariant 4). A failure to publish is not the records' fault: it
        propagates, nothing is stored, so the batch is not marked done (the outbox itself
        retries first) and is decided again from the same states.
        """
        batch = _Batch()
        for record in records:
            self._handle(batch, record)
        if batch.output:
            await self.outbox.publish_all(batch.output)
        await self._store(batch)

    def _handle(self, batch: _Batch, record: InputRecord) -> None:
        processed = handle_record(
            record,
            commands_topic=TRIGGERS_COMMANDS.name,
            parsers=_PARSERS,
            on_command=lambda key, value: self._on_command(
                batch, record, key, commands.decode(value)
            ),
            on_event=lambda key, event: self._on_event(batch, record, key, event),
            park=lambda reason: self._park(batch, record, reason),
        )
        if processed:
            child(metrics.RECORDS, record.topic, "processed").inc()

    def _on_event(self, batch: _Batch, record: InputRecord, key: bytes, event: InputEvent) -> None:
        check_key(key, record_key(event.shopid, event.customerid, event.anonymousid))
        if isinstance(event, CustomerIdentifiedEvent) and event.customerid is None:
            self._hand_over_visitor(batch, record, key, event)
            return
        state = self._load(batch, record, key)
        decision = deciding(decide, state, event, self.clock.now(), self.catalog)
        self._apply(batch, record, key, decision)

    def _on_command(
        self, batch: _Batch, record: InputRecord, key: bytes, command: commands.Command
    ) -> None:
        if isinstance(command, commands.MergeVisitor):
            visitor = CustomerState.from_bytes(command.visitor_state)
            customer_id = key.decode().split(":", 1)[1]
            merged = deciding(
                merge_identified, visitor, self._load(batch, record, key), customer_id
            )
            self._apply(batch, record, key, Decision(state=merged, actions=()))
            return
        state = self._load(batch, record, key)
        if state is None:  # the customer's state was removed meanwhile: nothing is due
            batch.changed(key, None, record)
            return
        self._apply(batch, record, key, deciding(fire_due, state, self.clock.now(), self.catalog))

    def _hand_over_visitor(
        self, batch: _Batch, record: InputRecord, key: bytes, event: CustomerIdentifiedEvent
    ) -> None:
        """Move the visitor's state to the customer's key, through the commands topic."""
        state = self._load(batch, record, key)
        if state is None:
            return
        customer_key = record_key(event.shopid, event.data.customer_id, None).encode()
        merge = commands.MergeVisitor(state.to_bytes())
        batch.emit(TRIGGERS_COMMANDS.name, customer_key, commands.encode(merge))
        batch.changed(key, None, record)

    def _apply(self, batch: _Batch, record: InputRecord, key: bytes, decision: Decision) -> None:
        for action in decision.actions:
            self._act(batch, key, action)
        batch.changed(key, decision.state, record)

    def _act(
        self,
        batch: _Batch,
        key: bytes,
        action: FireStep | ExpireStep | JourneyEntered | JourneyExited,
    ) -> None:
        if isinstance(action, FireStep | ExpireStep):
            kind = TriggerFiredEvent if isinstance(action, FireStep) else TriggerExpiredEvent
            self._emit(
                batch,
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
                ),
            )
            if isinstance(action, FireStep):
                child(metrics.FIRED, action.data.campaign_id).inc()
                lateness = -self.clock.seconds_until(action.data.due_at)
                metrics.TIMER_LATENESS.observe(max(lateness, 0.0))
            else:
                child(metrics.EXPIRED, action.data.campaign_id).inc()
        elif isinstance(action, JourneyEntered):
            child(metrics.ENTERED, action.campaign_id).inc()
        else:
            child(metrics.EXITED, action.campaign_id, action.reason).inc()
            if action.reason not in QUIET_EXITS:
                self._emit(batch, self._exit_record(key, action))

    def _exit_record(self, key: bytes, action: JourneyExited) -> JourneyExitedEvent:
        shop_id, who = key.decode().split(":", 1)
        customer_id, anonymous_id = (None, who[5:]) if who.startswith("anon:") else (who, None)
        step = f"exit:{action.reason}"
        return JourneyExitedEvent(
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

    @staticmethod
    def _emit(batch: _Batch, record: EventEnvelope) -> None:
        """One record for triggers.fired.v1, sent with the batch's output."""
        value = record.model_dump_json(exclude_none=True).encode()
        batch.emit(TRIGGERS_FIRED.name, record.key.encode(), value)

    def _load(self, batch: _Batch, record: InputRecord, key: bytes) -> CustomerState | None:
        if key in batch.states:
            return batch.states[key]
        raw = self.states.get(key, record.origin)
        if raw is None:
            return None
        batch.stored.add(key)
        return CustomerState.from_bytes(raw)

    async def _store(self, batch: _Batch) -> None:
        changes = []
        for key, state in batch.states.items():
            record = batch.records[key]
            if state is not None:
                changes.append(Change(key, state.to_bytes(), record.partition, record.origin))
            elif key in batch.stored:
                changes.append(Change(key, None, record.partition, record.origin))
        await self.states.write_all(changes)
        for key, state in batch.states.items():
            self.index.set(key.decode(), None if state is None else state.next_due_s())
        metrics.TIMERS_PENDING.set(len(self.index))

    async def rebuild_index(self) -> None:
        """Refill the index from the states' headers (after a rebalance or a restart),
        yielding to the event loop as it goes. A state that cannot be read is left out and
        logged: its records are parked when they come, as any other record of that key."""
        self.index.clear()
        for count, (key, raw) in enumerate(self.states.items()):
            if count % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            try:
                due = due_of(raw)
            except UnsupportedStateVersion as exc:
                log.error("state of %r left out of the timer index: %s", key, exc)
                continue
            if due is not None:
                self.index.set(key.decode(), due)
        metrics.TIMERS_PENDING.set(len(self.index))

    async def tick(self, limit: int) -> int:
        """Send a due command for each customer whose earliest step is due; return how many."""
        due = await send_due(
            lambda: self.index.pop_due(self.clock.now().timestamp(), limit),
            self.index.set,
            lambda key: self.outbox.send_command(key, commands.encode(commands.TimerDue())),
        )
        metrics.TIMERS_PENDING.set(len(self.index))
        return due

    @staticmethod
    def _park(batch: _Batch, record: InputRecord, reason: str) -> None:
        """Onto the dead-letter topic of the record's own topic, sent with the batch."""
        parked = park(record, service="triggers", reason=reason)
        batch.emit(parked.topic, parked.key, parked.value)
        child(metrics.RECORDS, record.topic, "dead_lettered").inc()
