"""What the sinks received, matched with what the oracle predicted: the verdict of a run.

Pure: the prediction, every copy the sinks logged, the faults the harness caused and the clock
go in; a `Comparison` comes out. Each message id is classified once: matched (expected and
received exactly once), missing (excused when a fault made it expire, tolerated when the oracle
was not certain), duplicated (SMS always a violation; email explained or not by a fault that
can leave an SMTP transaction unanswered), unexpected (withheld for certain, withheld
uncertainly, sent while a fault held back its reason, or unknown to the oracle), sent to
another address, or sent before it was due. A customer's discrepancies that follow from what a
fault did to their history are listed with the fault; opt-outs and SMS duplicates never are
(docs/E2E.md, "The verdict").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tests.e2e.latency import LatencyRow, Sample, latency_rows, row_name
from tests.e2e.model import (
    ClockMap,
    Customer,
    Expected,
    Fault,
    Observed,
    Prediction,
    Sink,
    Withheld,
)

RECOVERY_S = 30.0
"""Wall seconds after a fault during which its effects still excuse or explain."""
DUPLICATE_SLACK_S = 5.0
"""Wall seconds around a fault within which the first copy of an email duplicate must have
arrived for that fault to explain it."""
EARLY_SLACK_S = 0.5
"""Wall seconds a copy may arrive before its `send_after` (beyond the prediction's margin)
before it counts as sent early: the processes read one clock, so this is rounding."""
HISTORIES_KEPT = 20
"""Discrepancies per category whose customer's history is looked up (all are counted)."""

DUPLICATE_EMAIL_FAULTS = frozenset({"broker_restart", "postgres_restart"})
"""Faults that can end the sender between the relay's acceptance and the sender's record of
it, whatever they hit; a `sigkill` can only when it hits the process that sends."""
EMAIL_SENDERS = frozenset({"dispatch", "dispatch-sender"})
"""The harness's names of the process that talks to the relay (dispatch whole, or its sender)."""
_CONSENT_WITHDRAWN = re.compile(r"opt(ed)?[ _-]?out|suppress|unsubscri", re.IGNORECASE)


class Category(StrEnum):
    MISSING = "missing"
    EXPIRED = "expired during a fault"
    UNCERTAIN_MISSING = "uncertain, not received"
    SMS_DUPLICATE = "duplicate SMS"
    EMAIL_DUPLICATE_EXPLAINED = "duplicate email, explained by a fault"
    EMAIL_DUPLICATE = "duplicate email, no fault explains it"
    AFTER_OPT_OUT = "marketing after an opt-out or a suppression"
    WITHHELD = "withheld (certain)"
    WITHHELD_UNCERTAIN = "withheld (uncertain)"
    WITHHELD_FAULT = "withheld, sent while a fault delayed its reason"
    FOLLOWS_FAULT = "decided otherwise after a fault changed the customer's history"
    UNKNOWN = "unknown"
    MISADDRESSED = "sent to another address"
    EARLY = "sent before it was due"


VIOLATIONS: tuple[Category, ...] = (
    Category.MISSING,
    Category.SMS_DUPLICATE,
    Category.EMAIL_DUPLICATE,
    Category.AFTER_OPT_OUT,
    Category.WITHHELD,
    Category.UNKNOWN,
    Category.MISADDRESSED,
    Category.EARLY,
)
"""The categories any member of which fails the acceptance, in the order they are reported."""


@dataclass
class Discrepancy:
    """One message that is not simply matched: what it was, its copies, who it concerns."""

    category: Category
    message_id: str | None
    campaign_id: str | None
    step_id: str | None
    channel: str | None
    customer: Customer | None
    copies: list[Observed]
    note: str = ""
    """Why: the reason it was withheld, the fault that excuses or explains it..."""
    history: list[str] | None = None
    """The customer's timeline; only for the first discrepancies of each category."""
    at: datetime | None = None
    """Wall time it concerns: when it was due, decided, or first received."""


@dataclass
class CampaignTally:
    """Counts for one (campaign, channel)."""

    campaign_id: str
    channel: str
    expected: int = 0
    received: int = 0
    """Expected messages that arrived at least once."""
    missing: int = 0
    expired: int = 0
    uncertain_missing: int = 0
    duplicates: int = 0
    withheld_sent: int = 0
    """Messages the oracle withheld (certainly or not) that arrived."""


@dataclass
class Comparison:
    """The verdict of one run: counts for every category, the discrepancies themselves, the
    per-campaign tallies and the latency table."""

    expected: int
    certain: int
    withheld: int
    copies: dict[Sink, int]
    matched: int
    found: dict[Category, list[Discrepancy]]
    campaigns: list[CampaignTally]
    latency: list[LatencyRow]
    faults: list[Fault]
    events: int = 0
    recovery_s: float = RECOVERY_S
    histories: int = HISTORIES_KEPT
    """Discrepancies per category shown in full, with their customers' histories."""

    def count(self, category: Category) -> int:
        return len(self.found.get(category, []))

    def violations(self) -> list[str]:
        """The acceptance failures, one line per failing category; empty when the run passes."""
        failures = []
        for category in VIOLATIONS:
            found = self.found.get(category, [])
            if not found:
                continue
            line = f"{len(found)} {category}"
            if category in (Category.WITHHELD, Category.AFTER_OPT_OUT):
                reasons = Counter(d.note for d in found)
                line += " [" + ", ".join(f"{r}: {n}" for r, n in reasons.most_common()) + "]"
            examples = [d.message_id or f"(no id, to {d.copies[0].to})" for d in found[:3]]
            failures.append(line + ": " + ", ".join(examples) + (", ..." if len(found) > 3 else ""))
        return failures


def compare(
    prediction: Prediction,
    observed: Sequence[Observed],
    faults: Sequence[Fault],
    clock: ClockMap,
    *,
    recovery_s: float = RECOVERY_S,
    duplicate_slack_s: float = DUPLICATE_SLACK_S,
    early_slack_s: float = EARLY_SLACK_S,
    histories: int = HISTORIES_KEPT,
    skipped: Mapping[str, str] | None = None,
    opt_outs: Mapping[tuple[str, str], Sequence[tuple[str, datetime]]] | None = None,
) -> Comparison:
    """Classify every expected, withheld and received message of a run (see the module).

    `skipped`: trigger id -> the reason dispatch's log gives for skipping it. A missing
    message dispatch skipped as expired or capped while a fault delayed it, and every later
    discrepancy of a customer whose history a fault changed (a message expired, held back or
    sent late by it), are the fault's consequences: listed, not violations. Opt-outs and SMS
    duplicates are never excused.

    `opt_outs`: (shop, customer) -> (channel, wall time) of each opt-out the simulated
    customers really made (the inbox's log). When given, a marketing copy after one of them
    (beyond the margin) breaks invariant 3 whatever the oracle said, and an opt-out the oracle
    predicted but the customer never made (the message it answered never came) is not one."""
    skipped = skipped or {}
    performed = opt_outs
    touched: dict[tuple[str, str], tuple[datetime, str]] = {}

    def touch(shop_id: str, customer_id: str, at: datetime, why: str) -> None:
        key = (shop_id, customer_id)
        if key not in touched or at < touched[key][0]:
            touched[key] = (at, why)

    faults = sorted(faults, key=lambda f: f.started_at)
    recovery = timedelta(seconds=recovery_s)
    copies_by_id: dict[str, list[Observed]] = {}
    anonymous: list[Observed] = []
    for copy in observed:
        if copy.message_id is None:
            anonymous.append(copy)
        else:
            copies_by_id.setdefault(copy.message_id, []).append(copy)
    expected_by_id = {e.message_id: e for e in prediction.expected}
    withheld_by_id = {
        w.message_id: w for w in prediction.withheld if w.message_id not in expected_by_id
    }
    addresses = _address_book(prediction.customers)
    found: dict[Category, list[Discrepancy]] = {}
    tallies: dict[tuple[str, str], CampaignTally] = {}
    samples: list[Sample] = []
    matched = 0
    early_by = prediction.margin / clock.scale + timedelta(seconds=early_slack_s)

    def note(
        category: Category,
        item: Expected | Withheld | None,
        copies: list[Observed],
        why: str,
        at: datetime | None = None,
    ) -> None:
        customer = (
            prediction.customers.get((item.shop_id, item.customer_id))
            if item is not None
            else _customer_at(addresses, copies)
        )
        found.setdefault(category, []).append(
            Discrepancy(
                category=category,
                message_id=item.message_id if item is not None else _first_id(copies),
                campaign_id=item.campaign_id if item is not None else None,
                step_id=item.step_id if item is not None else None,
                channel=item.channel if item is not None else _channel(copies),
                customer=customer,
                copies=copies,
                note=why,
                at=at if at is not None else _when(item, copies, clock),
            )
        )

    def tally(item: Expected | Withheld) -> CampaignTally:
        key = (item.campaign_id, item.channel)
        if key not in tallies:
            tallies[key] = CampaignTally(item.campaign_id, item.channel)
        return tallies[key]

    for item in prediction.expected:
        copies = copies_by_id.get(item.message_id, [])
        counts = tally(item)
        counts.expected += 1
        if not copies:
            if not item.certain:
                counts.uncertain_missing += 1
                note(Category.UNCERTAIN_MISSING, item, copies, item.why_uncertain or "")
                continue
            excuse = _expired_during(item, faults, clock, recovery)
            reason = skipped.get(item.trigger_id, "")
            delayed = _skipped_after_fault(item, reason, faults, clock, recovery)
            if excuse is not None:
                counts.expired += 1
                note(Category.EXPIRED, item, copies, f"expired during {_describe(excuse)}")
                touch(item.shop_id, item.customer_id, clock.wall(item.send_after), "expired")
            elif delayed is not None:
                counts.expired += 1
                why = f"dispatch: {reason.split(':')[0]} after {_describe(delayed)}"
                note(Category.FOLLOWS_FAULT, item, copies, why)
                touch(item.shop_id, item.customer_id, clock.wall(item.send_after), why)
            else:
                counts.missing += 1
                note(Category.MISSING, item, copies, f"dispatch: {reason}" if reason else "")
            continue
        counts.received += 1
        matched += len(copies) == 1
        first = min(copies, key=lambda c: c.received_at)
        due = clock.wall(item.send_after)
        samples.append(
            Sample(
                row=row_name(item.campaign_id, item.campaign_kind),
                transactional=item.transactional,
                seconds=(first.received_at - due).total_seconds(),
                during_fault=_in_flight_during(due, first.received_at, faults, recovery),
            )
        )
        held_back = first.received_at - due > early_by
        if held_back and _in_flight_during(due, first.received_at, faults, recovery):
            touch(item.shop_id, item.customer_id, due, f"{item.campaign_id}/{item.step_id} late")
        if item.certain and first.received_at < due - early_by:
            ahead = (due - first.received_at).total_seconds()
            note(Category.EARLY, item, copies, f"{ahead:.1f} s before {_iso(due)} (wall)")

    for message_id, copies in copies_by_id.items():
        known: Expected | Withheld | None = expected_by_id.get(message_id)
        if known is None:
            known = withheld_by_id.get(message_id)
            if known is None:
                note(Category.UNKNOWN, None, copies, "no prediction has this message id")
            else:
                _unexpected(known, copies, note, faults, clock, recovery, performed)
                tally(known).withheld_sent += 1
        if known is not None:
            wrong = _wrong_recipients(known, copies, prediction.customers)
            if wrong:
                note(Category.MISADDRESSED, known, copies, "to " + ", ".join(wrong))
        if len(copies) > 1:
            if known is not None:
                tally(known).duplicates += 1
            _duplicate(known, copies, faults, duplicate_slack_s, note)
    for copy in anonymous:
        note(Category.UNKNOWN, None, [copy], "no message id")

    if performed is not None:
        marketing = {e.message_id for e in prediction.expected if not e.transactional}
        marketing |= {w.message_id for w in prediction.withheld if not w.transactional}
        flagged = {d.message_id for d in found.get(Category.AFTER_OPT_OUT, [])}
        for message_id, copies in copies_by_id.items():
            if message_id not in marketing or message_id in flagged:
                continue
            marked: Expected | Withheld | None = expected_by_id.get(message_id)
            if marked is None:
                marked = withheld_by_id.get(message_id)
            if marked is None:
                continue
            made = performed.get((marked.shop_id, marked.customer_id), ())
            late = [
                c
                for c in copies
                for channel, at in made
                if channel == marked.channel and c.received_at > at + early_by
            ]
            if late:
                note(Category.AFTER_OPT_OUT, marked, copies, "after the customer's own opt-out")
    for d in found.get(Category.WITHHELD_FAULT, []):
        if d.customer is not None and d.at is not None:
            touch(d.customer.shop_id, d.customer.customer_id, d.at, d.note)
    _follow_faults(found, touched, FOLLOW_HORIZON / clock.scale)
    _look_up_histories(found, prediction.history, histories)
    return Comparison(
        expected=len(prediction.expected),
        certain=sum(e.certain for e in prediction.expected),
        withheld=len(prediction.withheld),
        copies=dict(Counter(c.sink for c in observed)),
        matched=matched,
        found=found,
        campaigns=sorted(tallies.values(), key=lambda t: (t.campaign_id, t.channel)),
        latency=latency_rows(samples),
        faults=list(faults),
        events=prediction.events,
        recovery_s=recovery_s,
        histories=histories,
    )


Note = Callable[[Category, Expected | Withheld | None, list[Observed], str], None]


def breaks_withdrawn_consent(withheld: Withheld) -> bool:
    """A marketing message withheld because the customer opted out or is suppressed: the
    worst thing Nudge can send (DESIGN.md, invariant 3)."""
    return not withheld.transactional and bool(_CONSENT_WITHDRAWN.search(withheld.reason))


def explains_email_duplicate(fault: Fault, first_copy: datetime, slack: timedelta) -> bool:
    """Whether `fault` can have ended the sender between the relay's acceptance of the first
    copy and the sender's record of it (then the resend is a second copy SMTP cannot avoid)."""
    can = fault.kind in DUPLICATE_EMAIL_FAULTS or (
        fault.kind == "sigkill" and fault.target in EMAIL_SENDERS
    )
    return can and fault.started_at - slack <= first_copy <= fault.ended_at + slack


def _unexpected(
    withheld: Withheld,
    copies: list[Observed],
    note: Note,
    faults: Sequence[Fault],
    clock: ClockMap,
    recovery: timedelta,
    opt_outs: Mapping[tuple[str, str], Sequence[tuple[str, datetime]]] | None = None,
) -> None:
    """A withheld message that arrived. An opt-out or a suppression is never excused (unless
    the customer never made the opt-out the oracle expected); another reason (bought, added
    to cart, capped...) is, when a fault lay between the moment it arose and the copy: the
    fault held back the event that would have withheld it (listed)."""
    first = min(c.received_at for c in copies)
    never_made = (
        opt_outs is not None
        and _CONSENT_WITHDRAWN.search(withheld.reason) is not None
        and "suppress" not in withheld.reason
        and not any(
            channel == withheld.channel
            for channel, _ in opt_outs.get((withheld.shop_id, withheld.customer_id), ())
        )
    )
    if not withheld.certain:
        note(Category.WITHHELD_UNCERTAIN, withheld, copies, withheld.why_uncertain or "")
    elif breaks_withdrawn_consent(withheld) and not never_made:
        note(Category.AFTER_OPT_OUT, withheld, copies, withheld.reason)
    elif never_made:
        note(Category.WITHHELD, withheld, copies, f"{withheld.reason} (never made)")
    elif _in_flight_during(clock.wall(withheld.decided_at), first, faults, recovery):
        during = [f for f in faults if f.started_at <= first]
        why = f"{withheld.reason}; {_describe(during[-1])}"
        note(Category.WITHHELD_FAULT, withheld, copies, why)
    else:
        note(Category.WITHHELD, withheld, copies, withheld.reason)


def _duplicate(
    known: Expected | Withheld | None,
    copies: list[Observed],
    faults: Sequence[Fault],
    slack_s: float,
    note: Note,
) -> None:
    if any(c.sink is Sink.SMS for c in copies):
        note(Category.SMS_DUPLICATE, known, copies, f"{len(copies)} copies")
        return
    first = min(c.received_at for c in copies)
    slack = timedelta(seconds=slack_s)
    causes = [f for f in faults if explains_email_duplicate(f, first, slack)]
    if causes:
        why = f"{len(copies)} copies; " + "; ".join(_describe(f) for f in causes)
        note(Category.EMAIL_DUPLICATE_EXPLAINED, known, copies, why)
    else:
        note(Category.EMAIL_DUPLICATE, known, copies, f"{len(copies)} copies")


FOLLOWED: tuple[Category, ...] = (
    Category.MISSING,
    Category.WITHHELD,
    Category.EARLY,
    Category.UNKNOWN,
)
"""What a fault earlier in a customer's history can explain (not an opt-out, not an SMS
twice: those break a promise whatever came before)."""
FOLLOW_HORIZON = timedelta(days=3)
"""Simulated time after a fault changed a customer's history within which it explains their
later discrepancies: the longest chain a decision feeds (a cart's reminders over 72 h, the
frequency cap's window, a fallback's look back)."""
TIME_DEPENDENT_SKIPS = ("expired", "frequency_cap", "no_consent")
"""Dispatch's skip reasons that depend on when it decides, which a fault changes: too late,
capped by what went out meanwhile, or decided before the consent event (another topic) got
there — a broker restart can let a trigger overtake the shop event that granted consent."""


def _follow_faults(
    found: dict[Category, list[Discrepancy]],
    touched: Mapping[tuple[str, str], tuple[datetime, str]],
    horizon: timedelta,
) -> None:
    """Move each discrepancy of a customer whose history a fault changed before it, within
    `horizon` (wall time), to FOLLOWS_FAULT, with what the fault did."""
    for category in FOLLOWED:
        kept = []
        for d in found.get(category, []):
            key = None if d.customer is None else (d.customer.shop_id, d.customer.customer_id)
            first = touched.get(key) if key is not None else None
            if first is not None and d.at is not None and first[0] < d.at <= first[0] + horizon:
                d.category = Category.FOLLOWS_FAULT
                d.note = f"{category}: after {first[1]} at {_iso(first[0])}"
                found.setdefault(Category.FOLLOWS_FAULT, []).append(d)
            else:
                kept.append(d)
        if kept:
            found[category] = kept
        else:
            found.pop(category, None)


def _skipped_after_fault(
    item: Expected, reason: str, faults: Sequence[Fault], clock: ClockMap, recovery: timedelta
) -> Fault | None:
    """The fault that delayed a message dispatch then skipped for a reason that depends on
    when it decided (too late, or capped by what went out meanwhile)."""
    if not reason.startswith(TIME_DEPENDENT_SKIPS):
        return None
    due = clock.wall(item.send_after)
    for fault in faults:
        if fault.started_at - recovery <= due <= fault.ended_at + recovery:
            return fault
    return None


def _when(
    item: Expected | Withheld | None, copies: list[Observed], clock: ClockMap
) -> datetime | None:
    if isinstance(item, Expected):
        return clock.wall(item.send_after)
    if isinstance(item, Withheld):
        return clock.wall(item.decided_at)
    return min((c.received_at for c in copies), default=None)


def _expired_during(
    item: Expected, faults: Sequence[Fault], clock: ClockMap, recovery: timedelta
) -> Fault | None:
    """The fault during which the message became too late to send: it expired before the
    fault's end (plus recovery) and was not yet due before the fault began (minus recovery)."""
    if item.expires_at is None:
        return None
    expires = clock.wall(item.expires_at)
    due = clock.wall(item.send_after)
    for fault in faults:
        if expires < fault.ended_at + recovery and due > fault.started_at - recovery:
            return fault
    return None


def _in_flight_during(
    due: datetime, received: datetime, faults: Sequence[Fault], recovery: timedelta
) -> bool:
    return any(
        due <= fault.ended_at + recovery and received >= fault.started_at for fault in faults
    )


def _wrong_recipients(
    item: Expected | Withheld,
    copies: list[Observed],
    customers: dict[tuple[str, str], Customer],
) -> list[str]:
    """The copies' recipients that are not the customer's address on the copy's channel
    (nothing to check when the prediction does not know the address)."""
    customer = customers.get((item.shop_id, item.customer_id))
    if customer is None:
        return []
    wrong = []
    for copy in copies:
        address = customer.email if copy.sink is Sink.SMTP else customer.phone
        if address is not None and _address_key(copy.to) != _address_key(address):
            wrong.append(copy.to)
    return list(dict.fromkeys(wrong))


def _address_book(customers: dict[tuple[str, str], Customer]) -> dict[str, Customer]:
    book: dict[str, Customer] = {}
    for customer in customers.values():
        for address in (customer.email, customer.phone):
            if address:
                book.setdefault(_address_key(address), customer)
    return book


def _customer_at(book: dict[str, Customer], copies: list[Observed]) -> Customer | None:
    """Who a copy no prediction knows was sent to, found by its address."""
    for copy in copies:
        customer = book.get(_address_key(copy.to))
        if customer is not None:
            return customer
    return None


def _address_key(address: str) -> str:
    return address.strip().casefold()


def _first_id(copies: list[Observed]) -> str | None:
    return next((c.message_id for c in copies if c.message_id is not None), None)


def _channel(copies: list[Observed]) -> str | None:
    if not copies:
        return None
    return "email" if copies[0].sink is Sink.SMTP else "sms"


def _look_up_histories(
    found: dict[Category, list[Discrepancy]],
    history: Callable[[str, str], list[str]],
    kept: int,
) -> None:
    for discrepancies in found.values():
        for discrepancy in discrepancies[:kept]:
            customer = discrepancy.customer
            if customer is not None:
                discrepancy.history = history(customer.shop_id, customer.customer_id)


def _describe(fault: Fault) -> str:
    span = f"{_iso(fault.started_at)} to {_iso(fault.ended_at)}"
    detail = f", {fault.detail}" if fault.detail else ""
    return f"{fault.kind} of {fault.target} ({span}{detail})"


def _iso(moment: datetime) -> str:
    return moment.strftime("%H:%M:%S.%f")[:-3]
