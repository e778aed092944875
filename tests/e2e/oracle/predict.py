"""`predict`: which messages Nudge must send for a simulator plan, and which it must not.

Customers are independent (every decision is per shop and customer), so they are replayed
one at a time (replay.py) and only their outcomes are kept. Each is replayed three times:
as the timeline says, with timers handled `margin` late, and with events handled `margin`
late. What comes out the same in all three is certain; what differs (an order, an opt-out or
a reply close to a step's due time, a quiet-hours or frequency-cap edge) is left uncertain
with the reason, since the real services' latency decides it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta

from services.simulator.behaviour import Action, timeline
from services.simulator.command import Plan
from services.simulator.formats import Format
from services.simulator.population import Customer as SimCustomer
from services.simulator.population import customer
from shared.events import EventEnvelope
from tests.e2e.model import Customer, Expected, Prediction, Withheld
from tests.e2e.oracle.config import Loaded, OracleConfig
from tests.e2e.oracle.ingest import CustomerIngest, access
from tests.e2e.oracle.replay import Outcome, Replay, Skew
from tests.e2e.oracle.replies import RepliesTo, simulator_replies


def people(plan: Plan) -> Iterator[SimCustomer]:
    shops = plan.shop_ids
    for index in range(plan.customers):
        yield customer(plan.seed, shops, index, plan.mix)


def customer_events(plan: Plan, person: SimCustomer) -> list[tuple[Action, EventEnvelope]]:
    """What ingest publishes for the customer's timeline, in order."""
    formats: dict[str, Format] = dict(plan.shops)
    ingest = CustomerIngest(access(person.shop), formats[person.shop])
    return list(ingest.events(timeline(person, plan.start, plan.days)))


def _status(outcome: Outcome | None) -> str:
    if outcome is None:
        return "not decided"
    return "sent" if outcome.sent else f"withheld ({outcome.reason})"


def settle(
    runs: list[tuple[str, dict[str, Outcome]]], until: datetime, margin: timedelta
) -> tuple[list[Expected], list[Withheld]]:
    """Expected and withheld messages from the replays (the first is the timeline's own)."""
    base = runs[0][1]
    ids = dict.fromkeys(base)
    for _, outcomes in runs[1:]:
        ids.update(dict.fromkeys(outcomes))
    expected: list[Expected] = []
    withheld: list[Withheld] = []
    for the_id in ids:
        seen = [(label, outcomes.get(the_id)) for label, outcomes in runs]
        outcome = base.get(the_id) or next(o for _, o in seen if o is not None)
        statuses = {_status(o) for _, o in seen}
        why: list[str] = list(dict.fromkeys(n for _, o in seen if o is not None for n in o.notes))
        if len(statuses) > 1:
            why.append(
                "decided differently when the services react later: "
                + "; ".join(f"{label}: {_status(o)}" for label, o in seen)
            )
        sent = any(o is not None and o.sent for _, o in seen)
        if sent:
            sent_at = outcome.send_after
            if sent_at > until + margin:
                continue
            if sent_at > until - margin:
                why.append(f"goes out within {margin} of the end of observation")
            expected.append(
                Expected(
                    message_id=outcome.message_id,
                    trigger_id=outcome.trigger_id,
                    shop_id=outcome.shop_id,
                    customer_id=outcome.customer_id,
                    campaign_id=outcome.campaign_id,
                    step_id=outcome.step_id,
                    channel=outcome.channel,
                    variant=outcome.variant,
                    transactional=outcome.transactional,
                    campaign_kind=outcome.campaign_kind,
                    due_at=outcome.due_at,
                    send_after=sent_at,
                    expires_at=outcome.expires_at,
                    certain=not why,
                    why_uncertain="; ".join(why) or None,
                )
            )
        elif outcome.due_at <= until:
            withheld.append(
                Withheld(
                    message_id=outcome.message_id,
                    trigger_id=outcome.trigger_id,
                    shop_id=outcome.shop_id,
                    customer_id=outcome.customer_id,
                    campaign_id=outcome.campaign_id,
                    step_id=outcome.step_id,
                    channel=outcome.channel,
                    transactional=outcome.transactional,
                    reason=outcome.reason or "withheld",
                    decided_at=outcome.decided_at,
                    certain=not why,
                    why_uncertain="; ".join(why) or None,
                )
            )
    return expected, withheld


def replay_customer(
    plan: Plan,
    person: SimCustomer,
    loaded: Loaded,
    replies_to: RepliesTo,
    *,
    until: datetime,
    margin: timedelta,
    replies_until: datetime | None = None,
    segment_events: Sequence[EventEnvelope] = (),
) -> tuple[list[Expected], list[Withheld], int]:
    """One customer's expected and withheld messages, and how many events ingest publishes."""
    events = customer_events(plan, person)
    expected, withheld = judge(
        person,
        events,
        loaded,
        replies_to,
        until=until,
        margin=margin,
        replies_until=replies_until,
        segment_events=segment_events,
    )
    return expected, withheld, len(events)


def judge(
    person: SimCustomer,
    events: Sequence[tuple[Action, EventEnvelope]],
    loaded: Loaded,
    replies_to: RepliesTo,
    *,
    until: datetime,
    margin: timedelta,
    replies_until: datetime | None = None,
    segment_events: Sequence[EventEnvelope] = (),
) -> tuple[list[Expected], list[Withheld]]:
    """The expected and withheld messages of one customer's events (three replays);
    `replies_until`: when the customers' inboxes stopped answering."""
    skews = [("as simulated", Skew())]
    if margin > timedelta(0):
        skews += [
            (f"timers {margin} late", Skew(timers=margin)),
            (f"events {margin} late", Skew(events=margin)),
        ]
    horizon = until + margin
    runs = [
        (
            label,
            Replay(
                person,
                events,
                loaded,
                replies_to,
                skew=skew,
                horizon=horizon,
                replies_until=replies_until,
                segment_events=segment_events,
            ).run(),
        )
        for label, skew in skews
    ]
    return settle(runs, until, margin)


def find(plan: Plan, shop_id: str, customer_id: str) -> SimCustomer | None:
    """The plan's customer with these ids (the id holds the index: population.customer_id)."""
    if len(customer_id) != 13 or not customer_id.isdigit():
        return None
    index = int(customer_id[6:])
    if index >= plan.customers:
        return None
    person = customer(plan.seed, plan.shop_ids, index, plan.mix)
    if person.shop != shop_id or person.customer_id != customer_id:
        return None
    return person


def history(
    plan: Plan,
    loaded: Loaded,
    replies_to: RepliesTo,
    shop_id: str,
    customer_id: str,
    *,
    until: datetime | None = None,
    margin: timedelta = timedelta(0),
    replies_until: datetime | None = None,
    segment_events: Sequence[EventEnvelope] = (),
) -> list[str]:
    """One customer's timeline and the oracle's decisions, replayed on demand."""
    person = find(plan, shop_id, customer_id)
    if person is None:
        return [f"no customer {shop_id}:{customer_id} in the plan"]
    lines: list[str] = [
        f"customer {shop_id}:{customer_id} #{person.index} email={person.email} "
        f"phone={person.phone} email_consent={person.email_consent} "
        f"sms_consent={person.sms_consent} bounces={person.bounces} zone={person.time_zone}"
    ]
    events = customer_events(plan, person)
    horizon = None if until is None else until + margin
    Replay(
        person,
        events,
        loaded,
        replies_to,
        horizon=horizon,
        replies_until=replies_until,
        segment_events=segment_events,
        lines=lines,
    ).run()
    return lines


def predict(
    plan: Plan,
    config: OracleConfig,
    *,
    until: datetime,
    margin: timedelta,
    replies_to: RepliesTo | None = None,
    replies_until: datetime | None = None,
    segment_events: Mapping[tuple[str, str], Sequence[EventEnvelope]] | None = None,
) -> Prediction:
    """The messages Nudge must and must not send for `plan` by `until` (simulated time);
    `replies_until`: when the simulator's inboxes stopped answering (None: never);
    `segment_events`: (shop, customer) -> the segmenter's published entries and exits."""
    segments = segment_events or {}
    loaded = Loaded.load(config)
    answers = replies_to if replies_to is not None else simulator_replies()
    expected: list[Expected] = []
    withheld: list[Withheld] = []
    customers: dict[tuple[str, str], Customer] = {}
    events = 0
    for person in people(plan):
        customers[person.shop, person.customer_id] = Customer(
            person.shop, person.customer_id, person.email, person.phone
        )
        got, kept, count = replay_customer(
            plan,
            person,
            loaded,
            answers,
            until=until,
            margin=margin,
            replies_until=replies_until,
            segment_events=segments.get((person.shop, person.customer_id), ()),
        )
        expected += got
        withheld += kept
        events += count
    return Prediction(
        expected=expected,
        withheld=withheld,
        customers=customers,
        history=lambda shop_id, customer_id: history(
            plan,
            loaded,
            answers,
            shop_id,
            customer_id,
            until=until,
            margin=margin,
            replies_until=replies_until,
            segment_events=segments.get((shop_id, customer_id), ()),
        ),
        events=events,
        until=until,
        margin=margin,
    )
