"""The records the oracle, the harness and the comparison exchange.

Pure data, no logic beyond conversions: the oracle (`tests/e2e/oracle/`) computes `Expected`
and `Withheld` messages from the simulator's timeline; the harness (`tests/e2e/harness/`)
records what the sinks received (`Observed`), the faults it caused (`Fault`), the clock it
gave every service (`ClockMap`) and what it measured; `tests/e2e/compare.py` matches them.
Message identity is dispatch's: `shared.events.messages.message_id(trigger_id, channel)`, the
email's Message-ID local part and the SMS idempotency key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class Sink(StrEnum):
    SMTP = "smtp"
    SMS = "sms"


@dataclass(frozen=True)
class ClockMap:
    """The services' campaign clock: simulated = origin + (wall - origin) * scale
    (shared/clock.py's ScaledClock), both as epoch seconds."""

    origin: float
    scale: float

    def simulated(self, wall: datetime) -> datetime:
        seconds = self.origin + (wall.timestamp() - self.origin) * self.scale
        return datetime.fromtimestamp(seconds, UTC)

    def wall(self, simulated: datetime) -> datetime:
        seconds = self.origin + (simulated.timestamp() - self.origin) / self.scale
        return datetime.fromtimestamp(seconds, UTC)

    def simulated_span(self, wall_seconds: float) -> timedelta:
        return timedelta(seconds=wall_seconds * self.scale)


@dataclass(frozen=True)
class Expected:
    """A message the oracle says must reach a sink exactly once."""

    message_id: str
    trigger_id: str
    shop_id: str
    customer_id: str
    campaign_id: str
    step_id: str
    channel: str
    """"email" or "sms" (shared.events.shop.Channel values)."""
    variant: str | None
    transactional: bool
    campaign_kind: str
    """The campaign's kind (order_update, welcome, abandoned_cart...): the latency rows."""
    due_at: datetime
    """Simulated time the step became due (the event's time for a step at delay 0)."""
    send_after: datetime
    """Simulated time it may go out: `due_at`, or the end of quiet hours it was deferred to."""
    expires_at: datetime | None
    """Simulated time after which the services drop it as too late (the campaign's
    `max_lateness` past `due_at`); a fault that delays it past this makes it uncertain."""
    certain: bool = True
    """False when timing the oracle cannot know decides it (a purchase within the margin of a
    reminder, a cap or quiet-hours boundary, a fault window): then missing is not an error."""
    why_uncertain: str | None = None


@dataclass(frozen=True)
class Withheld:
    """A message the oracle says must NOT be sent, and why (bought before the reminder,
    opted out, capped, suppressed, no consent, exited...)."""

    message_id: str
    trigger_id: str
    shop_id: str
    customer_id: str
    campaign_id: str
    step_id: str
    channel: str
    transactional: bool
    reason: str
    decided_at: datetime
    """Simulated time of the decision (the exit event, the opt-out, the step's due time)."""
    certain: bool = True
    why_uncertain: str | None = None


@dataclass(frozen=True)
class Observed:
    """One copy of a message a sink received (sinks keep every copy, as real providers do)."""

    sink: Sink
    message_id: str | None
    """Dispatch's message id read back from the Message-ID / idempotency key; None when the
    copy carries none (then it is unexpected by definition)."""
    to: str
    received_at: datetime
    """Wall time (UTC) the sink accepted it."""
    summary: str
    """Subject or body head, for reports."""


@dataclass(frozen=True)
class Fault:
    """One fault the harness caused, in wall time."""

    kind: str
    """sigkill, broker_restart, postgres_restart, smtp_outage, sms_errors, slow_consumer,
    poison, duplicate_burst."""
    target: str
    """The service, sink or topic it hit."""
    started_at: datetime
    ended_at: datetime
    detail: str = ""


@dataclass(frozen=True)
class Customer:
    """Who a customer is in the reports: ids and addresses, to read sink copies back."""

    shop_id: str
    customer_id: str
    email: str | None
    phone: str | None


@dataclass
class History:
    """A customer's timeline and messages, printed beside every discrepancy."""

    customer: Customer
    lines: list[str] = field(default_factory=list)


@dataclass
class Prediction:
    """What the oracle computed for one run."""

    expected: list[Expected]
    withheld: list[Withheld]
    customers: dict[tuple[str, str], Customer]
    """(shop_id, customer_id) -> who they are."""
    history: Callable[[str, str], list[str]]
    """(shop_id, customer_id) -> their timeline and the oracle's decisions, one line each,
    simulated times first: printed beside every discrepancy."""
    events: int
    """Events ingest publishes for the timeline (duplicates not counted)."""
    until: datetime
    """Simulated end of observation: nothing due later is expected."""
    margin: timedelta
    """Simulated time within which the order of two things is left to the system's latency."""
