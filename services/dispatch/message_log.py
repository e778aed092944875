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
once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from services.dispatch.policy import History, PreviousMessage
from shared.events.shop import Channel
from shared.events.triggers import TriggerFired, TriggerFiredEvent

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


_ENQUEUE = text(
    """
INSERT INTO messages (trigger_id, shop_id, customer_id, campaign_id, journey_id, step_id,
                      variant, transactional, trigger, state, next_attempt_at)
SELECT * FROM unnest(CAST(:ids AS text[]), CAST(:shops AS text[]), CAST(:customers AS text[]),
                     CAST(:campaigns AS text[]), CAST(:journeys AS text[]),
                     CAST(:steps AS text[]), CAST(:variants AS text[]),
                     CAST(:transactional AS boolean[]), CAST(:triggers AS jsonb[])),
              LATERAL (SELECT 'queued', now()) AS waiting
ON CONFLICT (trigger_id) DO NOTHING
RETURNING trigger_id
"""
)


async def enqueue(conn: AsyncConnection, fired: Sequence[TriggerFiredEvent]) -> set[str]:
    """Record new triggers as queued; return the ids that were new (repeats are ignored)."""
    unique = {event.id: event for event in fired if event.customerid is not None}
    if not unique:
        return set()
    events = list(unique.values())
    rows = await conn.execute(
        _ENQUEUE,
        {
            "ids": [e.id for e in events],
            "shops": [e.shopid for e in events],
            "customers": [e.customerid for e in events],
            "campaigns": [e.data.campaign_id for e in events],
            "journeys": [e.data.journey_id for e in events],
            "steps": [e.data.step_id for e in events],
            "variants": [e.data.variant for e in events],
            "transactional": [e.data.transactional for e in events],
            "triggers": [e.data.model_dump_json(exclude_none=True) for e in events],
        },
    )
    return {row[0] for row in rows}


_STILL_QUEUED = text(
    "SELECT trigger_id FROM messages "
    "WHERE trigger_id = ANY(CAST(:ids AS text[])) AND state = 'queued' AND attempts = 0"
)


async def still_queued(conn: AsyncConnection, trigger_ids: Sequence[str]) -> set[str]:
    """Which of these (already known) triggers no sender has taken yet."""
    if not trigger_ids:
        return set()
    rows = await conn.execute(_STILL_QUEUED, {"ids": list(trigger_ids)})
    return {row[0] for row in rows}


_NOT_DECIDING = """(candidate.shop_id, candidate.customer_id) NOT IN (
          SELECT deciding.shop_id, deciding.customer_id FROM messages AS deciding
          WHERE deciding.state = 'sending' AND deciding.message_id IS NULL
            AND deciding.lease_until > now())"""
# NOT IN over a subquery that does not refer to the candidate: read once into a hash per claim
# (both columns are NOT NULL, so NOT IN means NOT EXISTS). As a correlated NOT EXISTS the planner
# could probe every candidate against every row being decided: 200 x 200 comparisons, 40 ms a
# claim while another sender was deciding, under the claim lock.
# Two scans, each in the order of its partial index and stopping at the limit: due rows
# (messages_due) and rows whose sender's lease ran out (messages_leased). One scan with an OR
# and a COALESCE order had to read and sort every due row for each claim: 16 ms a claim with
# 20,000 waiting, in proportion to the backlog (a long provider outage's backlog included).
_CLAIM = text(
    f"""
WITH waiting AS (
    SELECT trigger_id, state AS previous_state, next_attempt_at AS due_at
    FROM messages AS candidate
    WHERE state IN ('queued', 'deferred', 'retrying') AND next_attempt_at <= :now
      AND {_NOT_DECIDING}
    ORDER BY next_attempt_at
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
), expired AS (
    SELECT trigger_id, state AS previous_state, lease_until AS due_at
    FROM messages AS candidate
    WHERE state = 'sending' AND lease_until < now()
      AND {_NOT_DECIDING}
    ORDER BY lease_until
    LIMIT :limit
    FOR UPDATE SKIP LOCKED
), due AS (
    SELECT * FROM waiting UNION ALL SELECT * FROM expired
    ORDER BY due_at
    LIMIT :limit
)
UPDATE messages AS m SET lease_until = now() + make_interval(secs => :lease_s),
                         state = 'sending', attempts = m.attempts + 1, updated_at = now()
FROM due
WHERE m.trigger_id = due.trigger_id
RETURNING m.trigger_id, m.shop_id, m.customer_id, m.journey_id, m.attempts, m.trigger::text,
          due.previous_state, m.channel, m.message_id, m.address, m.created_at, m.reason
"""
)


_CLAIM_TURN = text("SELECT pg_advisory_xact_lock(7302617746925571891)")
"""A fixed key of dispatch's own (advisory locks are per database)."""


async def claim(
    conn: AsyncConnection, limit: int, lease_s: float, now: datetime
) -> list[MessageRow]:
    """Take up to `limit` due rows (and rows whose sender's lease expired) for this sender.

    Not a customer's while another sender is deciding on them (a claimed row without a
    message id yet): that decision is not in the history, and a second message could slip
    under the frequency cap. Their rows are taken once it is recorded. Claims take turns
    (a transaction lock, held for the claim only), so that each sees the ones before it:
    two at once would both find the customer free.

    Due times are in campaign time (`now`, from dispatch's clock, scaled in demos); leases
    are in the database's wall-clock time. Call it in a transaction of its own."""
    await conn.execute(_CLAIM_TURN)
    rows = await conn.execute(_CLAIM, {"limit": limit, "lease_s": lease_s, "now": now})
    claimed = []
    for r in rows:
        claimed.append(
            MessageRow(
                trigger_id=r[0],
                shop_id=r[1],
                customer_id=r[2],
                journey_id=r[3],
                attempts=r[4],
                # As text: validated straight from JSON, not decoded to dicts first.
                trigger=TriggerFired.model_validate_json(r[5]),
                state=r[6],
                channel=Channel(r[7]) if r[7] else None,
                message_id=r[8],
                address=r[9],
                created_at=r[10],
                reason=r[11],
            )
        )
    return claimed


_RELEASE = text(
    """
UPDATE messages AS m SET state = r.previous_state, attempts = m.attempts - 1,
                         lease_until = CASE WHEN r.previous_state = 'sending' THEN now() END,
                         updated_at = now()
FROM unnest(CAST(:ids AS text[]), CAST(:states AS text[])) AS r(trigger_id, previous_state)
WHERE m.trigger_id = r.trigger_id AND m.state = 'sending' AND m.message_id IS NULL
"""
)


async def release(conn: AsyncConnection, rows: Sequence[MessageRow]) -> None:
    """Give back rows a round claimed but could not decide (an error before its outcomes
    were recorded): as they were, the attempt not counted. Held, they would keep their
    customers' other messages waiting until the lease ran out. Rows the round did record
    (a message id, or a settled state) are left alone."""
    if rows:
        await conn.execute(
            _RELEASE, {"ids": [r.trigger_id for r in rows], "states": [r.state for r in rows]}
        )


def _columns(items: Sequence[dict[str, Any]], keys: Sequence[str]) -> dict[str, list[Any]]:
    """Per-row dicts as one array per key: a whole batch in one statement, through unnest."""
    return {key: [item[key] for item in items] for key in keys}


_SENDING_KEYS = ("trigger_id", "channel", "message_id", "address")
_SENDING = text(
    """
UPDATE messages AS m SET channel = s.channel, message_id = s.message_id, address = s.address,
                         updated_at = now()
FROM unnest(CAST(:trigger_id AS text[]), CAST(:channel AS text[]), CAST(:message_id AS text[]),
            CAST(:address AS text[])) AS s(trigger_id, channel, message_id, address)
WHERE m.trigger_id = s.trigger_id
"""
)


async def mark_sending(conn: AsyncConnection, items: Sequence[dict[str, Any]]) -> None:
    """Commit the chosen channel and message id before any provider call.

    One statement for the whole batch (arrays, not one UPDATE per row): a row's keys are
    trigger_id, channel, message_id, address."""
    if items:
        await conn.execute(_SENDING, _columns(items, _SENDING_KEYS))


_SETTLE_KEYS = ("trigger_id", "state", "reason", "next_attempt_at", "provider_id", "refund")
_SETTLE = text(
    """
UPDATE messages AS m SET state = s.state, reason = s.reason, next_attempt_at = s.next_attempt_at,
                         provider_id = COALESCE(s.provider_id, m.provider_id),
                         sent_at = CASE WHEN s.state = 'sent' THEN CAST(:now AS timestamptz)
                                        ELSE m.sent_at END,
                         attempts = m.attempts - s.refund,
                         lease_until = NULL, updated_at = now()
FROM unnest(CAST(:trigger_id AS text[]), CAST(:state AS text[]), CAST(:reason AS text[]),
            CAST(:next_attempt_at AS timestamptz[]), CAST(:provider_id AS text[]),
            CAST(:refund AS integer[]))
     AS s(trigger_id, state, reason, next_attempt_at, provider_id, refund)
WHERE m.trigger_id = s.trigger_id
"""
)


async def settle(conn: AsyncConnection, items: Sequence[dict[str, Any]], now: datetime) -> None:
    """Record outcomes: sent (at `now`), retrying / deferred (with the next attempt), skipped,
    failed.

    `refund` gives the claim's attempt back when no provider was asked (a deferral, a paused
    provider), so waiting never uses up a message's attempts. One statement for the batch;
    a row's keys are trigger_id, state, reason, next_attempt_at, provider_id, refund (each
    trigger id once)."""
    if items:
        await conn.execute(_SETTLE, {**_columns(items, _SETTLE_KEYS), "now": now})


JUST_NOW_S = 60.0
"""Wall-clock seconds within which a recorded send counts whatever its campaign time."""

_HISTORY = text(
    """
SELECT shop_id, customer_id, journey_id, channel, transactional, COALESCE(sent_at, :now),
       opened_at IS NOT NULL, clicked_at IS NOT NULL, replied_at IS NOT NULL
FROM messages
WHERE (shop_id, customer_id) IN (SELECT * FROM unnest(CAST(:shops AS text[]),
                                                       CAST(:customers AS text[])))
  AND (state = 'sent' AND sent_at > :since
       AND (sent_at <= :now OR updated_at > now() - make_interval(secs => :just_now_s))
       OR state = 'sending' AND message_id IS NOT NULL AND lease_until > now()
          AND trigger_id <> ALL(CAST(:deciding AS text[])))
ORDER BY 6
"""
)


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


async def history(
    conn: AsyncConnection,
    keys: set[tuple[str, str]],
    now: datetime,
    window: timedelta,
    deciding: Sequence[str] = (),
) -> dict[tuple[str, str], CustomerHistory]:
    """The customers' sends in the window, and the sends in progress (counted as of `now`):
    another batch's, or another sender's, message that is with a provider counts against the
    frequency cap. Sends after `now` are not history either (with a demo's scaled clock an
    earlier run's campaign time may be ahead of this one's), unless recorded just now: another
    sender's send that ended after this round took its `now`. `deciding` are the trigger ids
    being decided now: not history (a message retried after a provider error must not cap
    itself)."""
    found = {key: CustomerHistory({}, {}) for key in keys}
    if not keys:
        return found
    shops, customers = zip(*sorted(keys), strict=True)
    rows = await conn.execute(
        _HISTORY,
        {
            "shops": list(shops),
            "customers": list(customers),
            "since": now - window,
            "now": now,
            "deciding": list(deciding),
            "just_now_s": JUST_NOW_S,
        },
    )
    for shop, customer, journey, channel, transactional, sent_at, opened, clicked, replied in rows:
        item = found[(shop, customer)]
        sent_on = Channel(channel)
        if not transactional:
            item.marketing.setdefault(sent_on, []).append(sent_at)
        item.last_by_journey[journey] = PreviousMessage(sent_on, sent_at, opened, clicked, replied)
    return found


_ENGAGED = {
    "opened": text(
        "UPDATE messages SET opened_at = COALESCE(opened_at, :at) WHERE message_id = :id"
    ),
    "clicked": text(
        "UPDATE messages SET clicked_at = COALESCE(clicked_at, :at) WHERE message_id = :id"
    ),
    "replied": text(
        "UPDATE messages SET replied_at = COALESCE(replied_at, :at) WHERE message_id = :id"
    ),
}


async def engaged(conn: AsyncConnection, how: str, message_id: str, at: datetime) -> None:
    """An open, click or reply on a message: what the no-response fallback looks at."""
    await conn.execute(_ENGAGED[how], {"id": message_id, "at": at})
