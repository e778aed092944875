"""One customer's life replayed through the services' own decisions, on a virtual clock.

Events (what ingest publishes, `ingest.py`), the journeys' timers, dispatch's decisions and
the customer's answers (`replies.py`) are processed in time order: each event by
`services.triggers.journeys.decide` at its time, each timer by `fire_due` at its due time, a
visitor's state handed to the customer by `merge_identified` when the cart is identified, and
each fired step by dispatch's `plan_message` with the contact dispatch's own contact store
builds from the same events (stores/memory.py), the customer's message history (caps, the
fallback rule) and the shop's policy. A deferred message is decided again when its deferral
ends; an email to an address the sink refuses is refused once, the address is then
undeliverable for dispatch, and the message is decided again at once (another channel, or
skipped).

`Skew` shifts the services' reactions: timers (and what they fire) or events (and what they
start) handled later than their simulated moment. The oracle compares such replays to tell a
decision that timing can flip from one that it cannot.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

from services.dispatch.contacts import facts_from as contact_facts
from services.dispatch.policy import (
    Contact,
    Defer,
    History,
    PreviousMessage,
    Skip,
    plan_message,
    preferred_first,
)
from services.dispatch.preference import preferred_channel
from services.dispatch.stores.memory import MemoryContactStore, MemoryStore
from services.simulator.behaviour import Action
from services.simulator.population import Customer
from services.triggers.journeys import (
    CustomerState,
    Decision,
    ExpireStep,
    FireStep,
    JourneyExited,
    decide,
    fire_due,
    merge_identified,
)
from services.triggers.journeys.state import utc
from shared.clock import make_clock
from shared.events import EventEnvelope, FeedbackEvent, record_key
from shared.events import feedback as fb
from shared.events.catalog import CustomerIdentifiedEvent
from shared.events.messages import message_id
from shared.events.profiles import ChannelEngagement
from shared.events.shop import Channel
from shared.events.triggers import TriggerFired, trigger_id
from tests.e2e.oracle.config import Loaded
from tests.e2e.oracle.replies import RepliesTo, Sent, feedback_event, kind_of

BOUNCE_REASON: Final = "email rejected: 550 mailbox unavailable"
"""What dispatch records for an address the SMTP sink refuses at RCPT (sender._rejected)."""
HISTORY_WINDOW: Final = timedelta(days=30)
QUIET: Final = frozenset({"completed"})

_EVENT, _TIMER, _DISPATCH = 0, 1, 2
T = TypeVar("T")


@dataclass(frozen=True)
class Skew:
    """How much later than their simulated moment the services handle timers and events."""

    timers: timedelta = timedelta(0)
    events: timedelta = timedelta(0)


@dataclass
class Outcome:
    """The fate of one message id (a trigger on one channel): sent, or withheld and why."""

    shop_id: str
    customer_id: str
    message_id: str
    trigger_id: str
    campaign_id: str
    campaign_kind: str
    step_id: str
    channel: str
    variant: str | None
    transactional: bool
    due_at: datetime
    expires_at: datetime | None
    sent: bool
    reason: str | None
    decided_at: datetime
    send_after: datetime
    notes: list[str] = field(default_factory=list)
    """Why timing the oracle cannot know may flip it (see `predict`)."""


@dataclass
class _SentRow:
    journey_id: str
    channel: Channel
    at: datetime
    message_id: str
    marketing: bool
    engaged: set[str] = field(default_factory=set)


def run_sync(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits (the in-memory stores' methods) without a loop."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        result: T = done.value
        return result
    coroutine.close()
    raise RuntimeError("the coroutine waited: not an in-memory call")


class Replay:
    """The replay of one customer (and their visitor keys), collecting outcomes."""

    def __init__(
        self,
        customer: Customer,
        events: Sequence[tuple[Action, EventEnvelope]],
        loaded: Loaded,
        replies_to: RepliesTo,
        *,
        skew: Skew = Skew(),
        horizon: datetime | None = None,
        replies_until: datetime | None = None,
        segment_events: Sequence[EventEnvelope] = (),
        lines: list[str] | None = None,
    ) -> None:
        """`horizon`: nothing later is handled (the end of observation and its margin);
        `replies_until`: the customers' inboxes stopped then, so no later answer comes;
        `segment_events`: the segmenter's entries and exits for the customer, as it published
        them (the oracle does not model the segmenter: it takes what it decided as input)."""
        self.customer = customer
        self.shop_id = customer.shop
        self.customer_id = customer.customer_id
        self.loaded = loaded
        self.replies_to = replies_to
        self.skew = skew
        self.horizon = horizon
        self.replies_until = replies_until
        self.lines = lines
        self.campaigns = loaded.catalog.for_shop(self.shop_id)
        self.policy = loaded.shops.for_shop(self.shop_id).policy
        self.own_key = record_key(self.shop_id, self.customer_id, None)
        self.states: dict[str, CustomerState] = {}
        self.outcomes: dict[str, Outcome] = {}
        self.sent: list[_SentRow] = []
        self.engagement: dict[Channel, dict[str, Any]] = {}
        self._store = MemoryStore(make_clock())
        self._contacts = MemoryContactStore(self._store)
        self._queue: list[tuple[datetime, int, int, Any]] = []
        self._order = itertools.count()
        self._timer_version = 0
        for action, event in events:
            self._push(event.time + skew.events, _EVENT, (action, event))
        for event in segment_events:
            self._push(event.time + skew.events, _EVENT, (None, event))

    # --- the loop -----------------------------------------------------------------------

    def run(self) -> dict[str, Outcome]:
        while self._queue:
            at, kind, _, payload = heapq.heappop(self._queue)
            if kind == _EVENT:
                self._on_event(at, payload)
            elif kind == _TIMER:
                if payload == self._timer_version:
                    self._on_timer(at)
            else:
                self._on_dispatch(at, *payload)
        return self.outcomes

    def _push(self, at: datetime, kind: int, payload: Any) -> None:
        if self.horizon is not None and at > self.horizon:
            return
        heapq.heappush(self._queue, (at, kind, next(self._order), payload))

    def _say(self, at: datetime, text: str) -> None:
        if self.lines is not None:
            self.lines.append(f"{at.astimezone(UTC):%Y-%m-%d %H:%M:%S} {text}")

    # --- events -------------------------------------------------------------------------

    def _on_event(self, at: datetime, payload: tuple[Action | None, EventEnvelope]) -> None:
        action, event = payload
        if action is not None and self.lines is not None:
            self._say(event.time, f"{event.type} ({action.kind.value} #{action.seq})")
        elif self.lines is not None:
            origin = "segmenter" if event.type.startswith("segment.") else "reply"
            self._say(event.time, f"{event.type} ({origin})")
        facts = contact_facts(event)  # type: ignore[arg-type]
        if facts is not None:
            run_sync(self._contacts.record([facts]))
        if isinstance(event, fb.MessageClickedEvent):
            self._engaged(event, "clicked")
        key = event.key
        if isinstance(event, CustomerIdentifiedEvent) and event.customerid is None:
            visitor = self.states.pop(key, None)
            if visitor is not None:
                own = self.states.get(self.own_key)
                before = self._journeys(self.own_key)
                merged = merge_identified(visitor, own, event.data.customer_id)
                self._say(at, f"visitor {event.anonymousid} handed over to the customer")
                self._apply(at, self.own_key, Decision(merged), before)
            return
        state = self.states.get(key)
        before = self._journeys(key)
        decision = decide(state, event, at, self.campaigns)  # type: ignore[arg-type]
        self._apply(at, key, decision, before)

    def _on_timer(self, at: datetime) -> None:
        state = self.states.get(self.own_key)
        if state is None:
            return
        before = self._journeys(self.own_key)
        self._apply(at, self.own_key, fire_due(state, at, self.campaigns), before)

    def _apply(
        self,
        at: datetime,
        key: str,
        decision: Decision,
        before: dict[str, tuple[str, int, int]],
    ) -> None:
        """Keep the state, act on what it asks; `before`: its journeys before the decision
        (the decision functions update the state in place)."""
        state = decision.state
        self.states[key] = state
        for act in decision.actions:
            if isinstance(act, FireStep):
                self._say(at, f"fired {act.data.campaign_id}/{act.data.step_id} {act.trigger_id}")
                self._on_dispatch(at, act.trigger_id, act.data, None)
            elif isinstance(act, ExpireStep):
                data = act.data
                self._say(at, f"expired {data.campaign_id}/{data.step_id}")
                self._withhold_step(
                    act.trigger_id,
                    data.campaign_id,
                    data.step_index,
                    utc(epoch(data.due_at)),
                    "expired",
                    at,
                )
            elif isinstance(act, JourneyExited):
                self._say(at, f"exited {act.campaign_id} {act.journey_id}: {act.reason}")
                if act.reason not in QUIET and state.customer_id is not None:
                    self._withhold_rest(before.get(act.journey_id), act, at)
            else:
                self._say(at, f"entered {act.campaign_id} {act.journey_id}")
        if key == self.own_key:
            self._timer_version += 1
            due = state.next_due_s()
            if due is not None:
                when = max(datetime.fromtimestamp(due, UTC), at) + self.skew.timers
                self._push(when, _TIMER, self._timer_version)

    def _journeys(self, key: str) -> dict[str, tuple[str, int, int]]:
        state = self.states.get(key)
        if state is None:
            return {}
        return {j.journey_id: (j.campaign_id, j.step, j.anchor) for j in state.journeys}

    # --- withheld steps -----------------------------------------------------------------

    def _withhold_rest(
        self, journey: tuple[str, int, int] | None, exited: JourneyExited, at: datetime
    ) -> None:
        """The steps a journey will never send since it ended (an order, an opt-out...)."""
        if journey is None:
            return
        campaign_id, step_index, anchor = journey
        campaign = self.campaigns.by_id.get(campaign_id)
        if campaign is None:
            return
        for index in range(step_index, len(campaign.steps)):
            step = campaign.steps[index]
            the_id = trigger_id(
                self.shop_id, self.customer_id, campaign_id, exited.journey_id, step.id
            )
            due = utc(anchor + campaign.delays_s[index])
            self._withhold_step(the_id, campaign_id, index, due, exited.reason, at)

    def _withhold_step(
        self, the_id: str, campaign_id: str, index: int, due: datetime, reason: str, at: datetime
    ) -> None:
        campaign = self.campaigns.by_id[campaign_id]
        step = campaign.steps[index]
        for channel in step.channels:
            self._record(
                Outcome(
                    shop_id=self.shop_id,
                    customer_id=self.customer_id,
                    message_id=message_id(the_id, channel.value),
                    trigger_id=the_id,
                    campaign_id=campaign_id,
                    campaign_kind=campaign.kind.value,
                    step_id=step.id,
                    channel=channel.value,
                    variant=None,
                    transactional=campaign.transactional,
                    due_at=due,
                    expires_at=due + timedelta(seconds=campaign.lateness_s),
                    sent=False,
                    reason=reason,
                    decided_at=at,
                    send_after=due,
                )
            )

    def _record(self, outcome: Outcome) -> None:
        # The first decision on a message id stands: a message sent stays sent, and an email
        # refused at RCPT stays `bounced` when its trigger is decided again without it.
        self.outcomes.setdefault(outcome.message_id, outcome)

    # --- dispatch -----------------------------------------------------------------------

    def _on_dispatch(
        self, at: datetime, the_id: str, fired: TriggerFired, deferred_from: datetime | None
    ) -> None:
        key = (self.shop_id, self.customer_id)
        while True:
            contact = run_sync(self._contacts.load({key})).get(key)
            if contact is None:
                self._withhold(the_id, fired, fired.channels, "no_address", at, "contact unknown")
                return
            contact = dataclasses.replace(contact, preferred_channel=self._preferred())
            history = self._history(fired.journey_id, at)
            plan = plan_message(
                fired,
                contact,
                history,
                self.policy,
                at,
                lambda channel: self.loaded.has_template(self.shop_id, fired.template_id, channel),
            )
            notes = _clicks_matter(fired, contact, history)
            if isinstance(plan, Skip):
                channels = list(fired.channels)
                if plan.channel is not None and plan.channel not in channels:
                    channels.append(plan.channel)
                self._withhold(the_id, fired, channels, plan.reason.value, at, plan.detail, notes)
                return
            if isinstance(plan, Defer):
                self._say(at, f"deferred {fired.campaign_id}/{fired.step_id} to {plan.until}")
                self._push(plan.until + self.skew.timers, _DISPATCH, (the_id, fired, at))
                return
            if plan.channel is Channel.EMAIL and self.customer.bounces:
                self._withhold(the_id, fired, [plan.channel], "bounced", at, BOUNCE_REASON)
                run_sync(self._contacts.refused(key, plan.channel, BOUNCE_REASON, at))
                continue
            self._send(the_id, fired, plan.channel, at, notes)
            return

    def _withhold(
        self,
        the_id: str,
        fired: TriggerFired,
        channels: Sequence[Channel],
        reason: str,
        at: datetime,
        detail: str | None,
        notes: Sequence[str] = (),
    ) -> None:
        self._say(at, f"withheld {fired.campaign_id}/{fired.step_id}: {reason} ({detail})")
        for channel in channels:
            outcome = self._outcome(the_id, fired, channel, at, sent=False, reason=reason)
            outcome.notes.extend(notes)
            self._record(outcome)

    def _outcome(
        self,
        the_id: str,
        fired: TriggerFired,
        channel: Channel,
        at: datetime,
        *,
        sent: bool,
        reason: str | None = None,
    ) -> Outcome:
        campaign = self.campaigns.by_id.get(fired.campaign_id)
        return Outcome(
            shop_id=self.shop_id,
            customer_id=self.customer_id,
            message_id=message_id(the_id, channel.value),
            trigger_id=the_id,
            campaign_id=fired.campaign_id,
            campaign_kind=campaign.kind.value if campaign else "",
            step_id=fired.step_id,
            channel=channel.value,
            variant=fired.variant,
            transactional=fired.transactional,
            due_at=fired.due_at,
            expires_at=fired.expires_at,
            sent=sent,
            reason=reason,
            decided_at=at,
            send_after=at,
        )

    def _send(
        self,
        the_id: str,
        fired: TriggerFired,
        channel: Channel,
        at: datetime,
        notes: Sequence[str],
    ) -> None:
        outcome = self._outcome(the_id, fired, channel, at, sent=True)
        outcome.notes.extend(notes)
        self._record(outcome)
        for other in fired.channels:  # a trigger becomes one message, on one channel
            if other is not channel:
                kept = self._outcome(
                    the_id, fired, other, at, sent=False, reason=f"sent by {channel}"
                )
                kept.notes.extend(notes)
                self._record(kept)
        self._say(at, f"sent {fired.campaign_id}/{fired.step_id} by {channel} {outcome.message_id}")
        row = _SentRow(fired.journey_id, channel, at, outcome.message_id, not fired.transactional)
        self.sent.append(row)
        counters = self.engagement.setdefault(channel, {"sent": 0})
        counters["sent"] += 1
        survey = fired.survey is not None
        sent = Sent(
            self.shop_id,
            self.customer_id,
            outcome.message_id,
            the_id,
            fired.campaign_id,
            channel,
            _order_id(fired),
            fired.survey.value if fired.survey is not None else None,
            outcome.transactional,
        )
        replies = self.replies_to(
            self.customer, outcome.message_id, channel.value, survey=survey, links=True
        )
        for reply in replies:
            when = at + reply.delay
            if self.replies_until is not None and when + self.skew.events > self.replies_until:
                self._say(when, f"no {kind_of(reply)} to {outcome.message_id}: inbox closed")
                continue
            self._say(when, f"reply {kind_of(reply)} to {outcome.message_id}")
            event = feedback_event(sent, reply, when)
            if event is not None:
                self._push(when + self.skew.events, _EVENT, (None, event))

    def _engaged(self, event: FeedbackEvent, how: str) -> None:
        ref = getattr(event.data, "message", None)
        for row in self.sent:
            if ref is not None and row.message_id == ref.message_id:
                row.engaged.add(how)
                counters = self.engagement.setdefault(row.channel, {"sent": 0})
                counters[how] = counters.get(how, 0) + 1
                counters["last_engaged_at"] = event.time

    def _preferred(self) -> Channel | None:
        if not any("last_engaged_at" in c for c in self.engagement.values()):
            return None
        return preferred_channel(
            {
                channel.value: ChannelEngagement(**counters)
                for channel, counters in self.engagement.items()
            }
        )

    def _history(self, journey_id: str, now: datetime) -> History:
        since = now - HISTORY_WINDOW
        marketing: dict[Channel, Sequence[datetime]] = {}
        previous: PreviousMessage | None = None
        for row in self.sent:
            if row.at <= since or row.at > now:
                continue
            if row.marketing:
                marketing[row.channel] = [*marketing.get(row.channel, ()), row.at]
            if row.journey_id == journey_id:
                previous = PreviousMessage(row.channel, row.at, clicked="clicked" in row.engaged)
        return History(recent_marketing=marketing, previous=previous)


def _clicks_matter(fired: TriggerFired, contact: Contact, history: History) -> list[str]:
    """Why the channel chosen may depend on which messages carry a tracked link (what a
    customer can click, which the oracle does not render): a preferred channel learnt from
    clicks on a step offering several, or the fallback rule after a clicked message."""
    notes = []
    channels = list(fired.channels)
    if preferred_first(channels, contact) != channels:
        notes.append(f"preferred channel {contact.preferred_channel} learnt from clicks")
    previous = history.previous
    if fired.fallback is not None and previous is not None and previous.clicked:
        notes.append("the fallback rule reads a click on the journey's previous message")
    return notes


def _order_id(fired: TriggerFired) -> str | None:
    order = getattr(fired.context, "order", None)
    found = getattr(order, "order_id", None) if order is not None else None
    return found if isinstance(found, str) else None


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())
