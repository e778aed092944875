"""The message log: one row per trigger, the state machine that makes a send happen once.

    queued ──► sending ──► sent
      ▲   │       │  └──► retrying ──► (sending ...) ──► failed (after the last attempt)
      │   ├──► deferred (quiet hours, contact not known yet) ──► (sending ...)
      │   └──► skipped (consent, cap, no address, render error, expired)

The trigger id is the primary key, so a trigger fired twice (replays, restarts of triggers)
is enqueued once. A row is claimed with a lease before anything is decided; the chosen channel
and the message id are committed (`sending`) *before* the provider is called, and a sender that
dies leaves the row `sending` with an expired lease: it is then resent under the same message
id, which the providers use to recognise the repeat (see providers/), so the customer gets it
once. The ports (ports.py) say what the log offers; stores/ hold its PostgreSQL and in-memory
adapters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.dispatch.policy import History, PreviousMessage
from shared.events.shop import Channel
from shared.events.triggers import TriggerFired

WAITING = ("queued", "deferred", "retrying")


@dataclass(frozen=True)
class MessageRow:
    trigger_id: str
    shop_id: str
    customer_id: str
    journey_id: str
    attempts: int
    trigger: TriggerFired
    state: str
    """The state before this claim: `sending` means a previous sender may have sent it."""
    channel: Channel | None
    message_id: str | None
    address: str | None
    created_at: datetime
    reason: str | None = None
    """Why it was waiting (for a deferred row): the status is said again only if it changes."""
    sent_body: str | None = None
    """The SMS body recorded with the last attempt (ports.Sending), if any."""
    age_s: float = 0.0
    """Seconds since the row was created, in the store's time (like its leases)."""


JUST_NOW_S = 60.0
"""Wall-clock seconds within which a recorded send counts whatever its campaign time."""


@dataclass
class CustomerHistory:
    """A customer's recent sends, kept current while a batch is being decided."""

    marketing: dict[Channel, list[datetime]]
    last_by_journey: dict[str, PreviousMessage]

    def view(self, journey_id: str) -> History:
        return History(
            recent_marketing={c: list(v) for c, v in self.marketing.items()},
            previous=self.last_by_journey.get(journey_id),
        )

    def sent(self, journey_id: str, channel: Channel, at: datetime, marketing: bool) -> None:
        if marketing:
            self.marketing.setdefault(channel, []).append(at)
        self.last_by_journey[journey_id] = PreviousMessage(channel, at)
