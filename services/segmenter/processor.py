"""What the segmenter does with its records: apply, evaluate the segments, emit, then store.

Kept apart from Faust, like the triggers processor (services/triggers/processor.py, whose
ordering rules this follows): the `profiles` and `timers` tables are plain mappings here.

1. Each record of a batch is applied to its customer's profile in order (a duplicate event id
   changes nothing); then the shop's segment rules are evaluated once per changed profile, on
   the result of all its records: entries and exits become `segment.entered` /
   `segment.exited` records, and the analyst's view of the profile a `customer.profile` record
   when it changed. Evaluating once per batch, not per record, costs less and keeps a history
   synced in at once (three past orders in one request) from passing through states it never
   had at any moment (lapsed after the first two orders, before the third is applied).
2. All of the batch's output is acknowledged by the broker before any profile is written, so
   a crash in between emits the same records again (their ids derive from the profile's entry
   counters) instead of losing them.
3. Each customer's profile and timer entry are written once per batch.

Time-based answers ("no order in the last 90 days", a lifecycle stage reached by time) have a
durable timer: the `timers` table holds, per customer, the earliest moment one of the shop's
rules or the lifecycle stage can change without an event, and the in-memory `TimerIndex` is
rebuilt from it after a rebalance. When it falls due, the tick sends a `TimerDue` command
through `segmenter.commands.v1`, and the profile is evaluated again in its partition, in order
with its events. The work of a tick follows the customers whose time came, not all customers.
"""

from __future__ import annotations

import asyncio
import logging
import struct
import uuid
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field

from services.segmenter import metrics
from services.segmenter.evaluation import Evaluator
from services.segmenter.membership import Change, decide, next_change_at
from services.segmenter.profiles.apply import applies, apply
from services.segmenter.profiles.merge import merge_visitor
from services.segmenter.profiles.model import Profile, decode, encode
from services.segmenter.publication import digest, profile_record
from shared import worker_commands as commands
from shared.clock import Clock, seconds_at
from shared.dead_letters import park
from shared.events import (
    parse_feedback_event_validated_upstream,
    parse_message_event,
    parse_shop_event_validated_upstream,
    record_key,
)
from shared.events.catalog import CustomerIdentifiedEvent
from shared.events.conversions import parse_conversion_event
from shared.events.envelope import EventEnvelope
from shared.events.name_ids import NameIds
from shared.events.segments import SegmentChange, SegmentEnteredEvent, SegmentExitedEvent
from shared.metric_children import child
from shared.stream_batch import (
    DecisionFailed,
    InputRecord,
    Outbox,
    OutputRecord,
    WriteScope,
    check_key,
    deciding,
    handle_record,
    no_scope,
    send_due,
)
from shared.timer_index import TimerIndex
from shared.topics import (
    CONVERSIONS,
    CUSTOMER_PROFILES,
    FEEDBACK_EVENTS,
    MESSAGES_STATUS,
    SEGMENTER_COMMANDS,
    SEGMENTS_CHANGES,
    SHOP_EVENTS,
)

log = logging.getLogger(__name__)

SOURCE = "/services/segmenter"
_PARSERS = {
    SHOP_EVENTS.name: parse_shop_event_validated_upstream,
    MESSAGES_STATUS.name: parse_message_event,
    FEEDBACK_EVENTS.name: parse_feedback_event_validated_upstream,
    CONVERSIONS.name: parse_conversion_event,
}
_DUE = struct.Struct(">d")
YIELD_EVERY = 1000
"""Table scans hand the event loop back this often (a million profiles take a while)."""
_IDS = NameIds(uuid.UUID("8fc534a1-9fe1-4a42-bb52-347ebd370cb1"))
"""Namespace of the ids of the segmenter's records (segment changes, profiles)."""


def _key_of(profile: Profile) -> bytes:
    return record_key(profile.shop_id, profile.customer_id, profile.anonymous_id).encode()


def pack_due(due: float) -> bytes:
    return _DUE.pack(due)


def unpack_due(raw: bytes) -> float:
    return float(_DUE.unpack(raw)[0])


@dataclass
class _Batch:
    """What a batch decided so far: the profiles it changed (None: removed), those still to be
    evaluated, and its output."""

    profiles: dict[bytes, Profile | None] = field(default_factory=dict)
    due: dict[bytes, float | None] = field(default_factory=dict)
    origins: dict[bytes, object] = field(default_factory=dict)
    pending: dict[bytes, tuple[Profile | None, list[InputRecord]]] = field(default_factory=dict)
    """Keys whose profile changed and is evaluated once the batch's records are applied: the
    stored profile before the batch, and the key's records of the batch."""
    output: list[OutputRecord] = field(default_factory=list)

    def updated(
        self, key: bytes, before: Profile | None, profile: Profile, record: InputRecord
    ) -> None:
        if key in self.pending:
            self.pending[key][1].append(record)
        else:
            self.pending[key] = (before, [record])
        self.profiles[key] = profile
        self.origins[key] = record.origin

    def removed(self, key: bytes, origin: object) -> None:
        self.pending.pop(key, None)
        self.profiles[key] = None
        self.due[key] = None
        self.origins[key] = origin

    def emit(self, topic: str, key: bytes | None, value: bytes) -> None:
        self.output.append(OutputRecord(topic, key, value))


class Processor:
    def __init__(
        self,
        *,
        profiles: MutableMapping[bytes, bytes],
        timers: MutableMapping[bytes, bytes],
        index: TimerIndex,
        evaluator: Evaluator,
        clock: Clock,
        outbox: Outbox,
        scope: WriteScope = no_scope,
    ) -> None:
        self.profiles = profiles
        self.timers = timers
        self.index = index
        self.evaluator = evaluator
        self.clock = clock
        self.outbox = outbox
        self.scope = scope
        self._generation = 0
        """Bumped by each table scan and by a rebalance: a scan whose number is no longer
        the latest stops."""

    async def on_batch(self, records: Sequence[InputRecord]) -> None:
        """Handle records in order: apply and evaluate all, publish what they emit, then store.

        Bad input, and a bug met while deciding, park that record on the dead-letter topic of
        its topic and the others go on. A failure to publish propagates and nothing is stored:
        the batch is not marked done and is handled again from the same profiles.
        """
        batch = _Batch()
        for record in records:
            self._handle(batch, record)
        for key, (before, handled) in list(batch.pending.items()):
            profile = batch.profiles[key]
            assert profile is not None
            try:
                self._evaluate(batch, key, profile, self._moment(handled), before=before)
            except DecisionFailed as exc:
                log.error("cannot evaluate %r", key, exc_info=exc.cause)
                self._unapply(batch, key, before, handled, str(exc))
        if batch.output:
            await self.outbox.publish_all(batch.output)
        self._store(batch)

    def _moment(self, records: Sequence[InputRecord]) -> float:
        """When a profile is evaluated: the clock's time at the newest of its records' Kafka
        timestamps, so that reading the same records again decides the same way (the time
        of processing would not: a replay after a crash, hours later, could emit an entry the
        first run did not, and leave the first run's entry without its exit)."""
        stamps = [r.timestamp for r in records if r.timestamp is not None]
        if not stamps:
            return self.clock.now().timestamp()
        return seconds_at(self.clock, max(stamps))

    def _unapply(
        self,
        batch: _Batch,
        key: bytes,
        before: Profile | None,
        handled: Sequence[InputRecord],
        reason: str,
    ) -> None:
        """Evaluation raised (a bug): the key's records are parked, its profile and timer stay
        as they were stored, so `nudge dlq replay` after the fix applies them again."""
        for record in handled:
            self._park(batch, record, reason)
        del batch.pending[key]
        batch.profiles.pop(key, None)
        batch.origins.pop(key, None)
        batch.due.pop(key, None)
        stored = self.timers.get(key)
        if stored is not None:  # a timer command popped it from the index: put it back
            self.index.set(key.decode(), unpack_due(stored))

    def _handle(self, batch: _Batch, record: InputRecord) -> None:
        processed = handle_record(
            record,
            commands_topic=SEGMENTER_COMMANDS.name,
            parsers=_PARSERS,
            on_command=lambda key, value: self._on_command(
                batch, record, key, commands.decode(value)
            ),
            on_event=lambda key, event: self._on_event(batch, record, key, event),
            park=lambda reason: self._park(batch, record, reason),
        )
        if processed:
            child(metrics.RECORDS, record.topic, "processed").inc()

    def _on_event(
        self, batch: _Batch, record: InputRecord, key: bytes, event: EventEnvelope
    ) -> None:
        check_key(key, record_key(event.shopid, event.customerid, event.anonymousid))
        if isinstance(event, CustomerIdentifiedEvent) and event.customerid is None:
            self._hand_over_visitor(batch, record, key, event)
            return
        profile = self._load(batch, key)
        if profile is None and not applies(event):  # nobody to keep a profile of
            child(metrics.RECORDS, record.topic, "unchanged").inc()
            return
        updated = deciding(apply, profile, event, self.clock.now().timestamp())
        if updated is profile:  # a duplicate, or nothing this service keeps
            child(metrics.RECORDS, record.topic, "unchanged").inc()
            return
        batch.updated(key, profile, updated, record)

    def _on_command(
        self, batch: _Batch, record: InputRecord, key: bytes, command: commands.Command
    ) -> None:
        if isinstance(command, commands.MergeVisitor):
            visitor = decode(command.visitor_state)
            customer_id = key.decode().split(":", 1)[1]
            customer = self._load(batch, key)
            merged = deciding(merge_visitor, visitor, customer, customer_id)
            if merged is not customer:
                batch.updated(key, customer, merged, record)
            return
        profile = self._load(batch, key)
        if profile is None:  # removed meanwhile (handed over): nothing to look at
            batch.removed(key, record.origin)
            return
        batch.updated(key, profile, profile, record)  # its time came: evaluate it again

    def _hand_over_visitor(
        self, batch: _Batch, record: InputRecord, key: bytes, event: CustomerIdentifiedEvent
    ) -> None:
        """Move the visitor's profile to the customer's key, through the commands topic (the
        customer's key may live on another partition, hence another worker)."""
        profile = self._load(batch, key)
        if profile is None:
            return
        customer_key = record_key(event.shopid, event.data.customer_id, None).encode()
        merge = commands.MergeVisitor(encode(profile))
        batch.emit(SEGMENTER_COMMANDS.name, customer_key, commands.encode(merge))
        batch.removed(key, record.origin)

    def _evaluate(
        self, batch: _Batch, key: bytes, profile: Profile, now: float, *, before: Profile | None
    ) -> None:
        """Evaluate the shop's segments on `profile`; emit the changes and the view."""
        evaluation = deciding(self.evaluator.evaluate, profile, now, before)
        outcome = deciding(
            decide, profile.segments, profile.entries, evaluation.verdicts, evaluation.versions, now
        )
        for change in outcome.changes:
            self._emit_change(batch, profile, change, now)
        profile.segments = outcome.memberships
        profile.entries = outcome.entries
        profile.rules = evaluation.fingerprint
        document = self.evaluator.view(profile, evaluation)
        published = digest(document)
        if published != profile.published:
            profile.published = published
            self._emit_profile(batch, profile, document, published, now)
        due_times = [
            t
            for t in (
                next_change_at(evaluation.verdicts),
                evaluation.stage_changes_at,
                evaluation.rfm_changes_at,
            )
            if t is not None
        ]
        batch.due[key] = min(due_times) if due_times else None

    def _emit_change(self, batch: _Batch, profile: Profile, change: Change, now: float) -> None:
        who = profile.customer_id or f"anon:{profile.anonymous_id}"
        kind = SegmentEnteredEvent if change.entered else SegmentExitedEvent
        direction = "entered" if change.entered else "exited"
        event = kind(
            id=_IDS(
                f"{profile.shop_id}\x1f{who}\x1f{change.segment_id}\x1f{direction}\x1f{change.entry}"
            ),
            source=SOURCE,
            time=self.clock.now(),
            subject=change.segment_id,
            shopid=profile.shop_id,
            customerid=profile.customer_id,
            anonymousid=None if profile.customer_id else profile.anonymous_id,
            data=SegmentChange(
                segment_id=change.segment_id,
                rule_version=change.rule_version,
                reason=change.reason[:500],
                entry=change.entry,
            ),
        )
        batch.emit(
            SEGMENTS_CHANGES.name,
            event.key.encode(),
            event.model_dump_json(exclude_none=True).encode(),
        )
        child(metrics.CHANGES, change.segment_id, direction).inc()

    def _emit_profile(
        self,
        batch: _Batch,
        profile: Profile,
        document: dict[str, object],
        published: int,
        now: float,
    ) -> None:
        who = profile.customer_id or f"anon:{profile.anonymous_id}"
        event_id = _IDS(f"{profile.shop_id}\x1f{who}\x1fprofile\x1f{published}")
        value = profile_record(event_id, SOURCE, self.clock.now(), profile, document)
        batch.emit(CUSTOMER_PROFILES.name, _key_of(profile), value)
        metrics.PROFILES_PUBLISHED.inc()

    def _load(self, batch: _Batch, key: bytes) -> Profile | None:
        if key in batch.profiles:
            return batch.profiles[key]
        raw = self.profiles.get(key)
        return decode(raw) if raw is not None else None

    def _store(self, batch: _Batch) -> None:
        for key, profile in batch.profiles.items():
            with self.scope(batch.origins[key]):
                if profile is None:
                    if key in self.profiles:
                        del self.profiles[key]
                else:
                    self.profiles[key] = encode(profile)
                if key not in batch.due:  # its evaluation failed (parked): timer left as is
                    continue
                due, name = batch.due[key], key.decode()
                if due is None:
                    if key in self.timers:
                        del self.timers[key]
                elif self.index.get(name) != due:
                    self.timers[key] = pack_due(due)
                self.index.set(name, due)
        metrics.TIMERS_PENDING.set(len(self.index))

    async def recover(self) -> None:
        """After a rebalance or restart, before any record is processed: refill the timer
        index from the timer table, the RFM book from the profiles, and schedule at once every
        profile last evaluated under rules that have changed since (a rule file edited before
        the restart)."""
        self.index.clear()
        for count, (key, raw) in enumerate(self.timers.items()):
            self.index.set(key.decode(), unpack_due(raw))
            if count % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # heartbeats and probes go on through a long scan
        now = self.clock.now().timestamp()
        stale = 0

        def check(key: bytes, profile: Profile) -> None:
            nonlocal stale
            if profile.rules != self.evaluator.fingerprint(profile.shop_id):
                self.index.set(key.decode(), now)
                stale += 1

        await self.rebuild_rfm(check)
        if stale:
            log.info("%d profiles were evaluated under other rules: evaluating them again", stale)
        metrics.TIMERS_PENDING.set(len(self.index))

    async def rebuild_rfm(self, also: Callable[[bytes, Profile], None] | None = None) -> bool:
        """Rebuild the RFM sketches from every profile (on a period, and in `recover`),
        yielding to the event loop as it goes: batches are processed meanwhile, and the book
        feeds what they change to both the old sketches and the new. A rebalance (`abandon`)
        or a newer rebuild ends it early, unfinished; returns whether it finished."""
        self._generation += 1
        mine = self._generation
        self.evaluator.begin_rebuild()
        try:
            for count, (key, raw) in enumerate(self.profiles.items()):
                if count % YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                    if self._generation != mine:
                        return False
                try:
                    profile = decode(raw)
                except (ValueError, TypeError) as exc:
                    log.error("profile %r cannot be read (%s); left as it is", key, exc)
                    continue
                self.evaluator.observe_for_rebuild(profile)
                if also is not None:
                    also(key, profile)
        except RuntimeError as exc:  # the partitions' stores changed under the scan
            log.warning("RFM rebuild abandoned: %s", exc)
            self.abandon_rebuild()
            return False
        if self._generation != mine:
            return False
        self.evaluator.finish_rebuild(self.clock.now().timestamp())
        return True

    def abandon_rebuild(self) -> None:
        """Partitions are being revoked: a scan in progress stops at its next step."""
        self._generation += 1
        self.evaluator.abandon_rebuild()

    async def tick(self, limit: int) -> int:
        """Send a due command for each customer whose time came; return how many."""
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
        parked = park(record, service="segmenter", reason=reason)
        batch.emit(parked.topic, parked.key, parked.value)
        child(metrics.RECORDS, record.topic, "dead_lettered").inc()
