"""Dispatch's state in PostgreSQL: the ports (ports.py) over one connection per transaction.

The message log's claims take turns under a transaction-level advisory lock and skip the rows
other transactions hold (`FOR UPDATE SKIP LOCKED`), so several senders, in one process or
many, share the log. Leases and `created_at` are in the database's wall-clock time; due times
(`next_attempt_at`, `sent_at`) in dispatch's campaign time (`now`, scaled in demos).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from services.dispatch import profiles
from services.dispatch.contacts import (
    ALL,
    CHANNELS,
    FIELDS,
    MARKETING,
    OPTED_OUT,
    WITHDRAWN,
    ContactFacts,
    _withdrawn,
)
from services.dispatch.message_log import JUST_NOW_S, CustomerHistory, MessageRow
from services.dispatch.outbox import Outbound
from services.dispatch.policy import ChannelState, Contact, PreviousMessage
from services.dispatch.ports import CustomerKey, Kept, Sending, Settle
from services.dispatch.profiles import ProfileFacts
from shared.events.shop import Channel
from shared.events.triggers import TriggerFired, TriggerFiredEvent

# --- The message log -------------------------------------------------------------------------

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
_STILL_QUEUED = text(
    "SELECT trigger_id FROM messages "
    "WHERE trigger_id = ANY(CAST(:ids AS text[])) AND state = 'queued' AND attempts = 0"
)
_NOT_DECIDING = """(candidate.shop_id, candidate.customer_id) NOT IN (
          SELECT deciding.shop_id, deciding.customer_id FROM messages AS deciding
          WHERE deciding.state = 'sending' AND deciding.message_id IS NULL
            AND deciding.lease_until > now())"""
# NOT IN over a subquery that does not refer to the candidate: read once into a hash per claim
# (both columns are NOT NULL, so NOT IN means NOT EXISTS). As a correlated NOT EXISTS the planner
# could probe every candidate against every row being decided, under the claim lock.
# Two scans, each in the order of its partial index and stopping at the limit: due rows
# (messages_due) and rows whose sender's lease ran out (messages_leased). One scan with an OR
# and a COALESCE order had to read and sort every due row for each claim, in proportion to the
# backlog (a long provider outage's backlog included). tests/integration/test_dispatch_claims.py
# holds both to their plans.
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
          due.previous_state, m.channel, m.message_id, m.address, m.created_at, m.reason,
          m.sent_body, extract(epoch FROM now() - m.created_at)
"""
)
_CLAIM_TURN = text("SELECT pg_advisory_xact_lock(7302617746925571891)")
"""A fixed key of dispatch's own (advisory locks are per database)."""

_RELEASE = text(
    """
UPDATE messages AS m SET state = r.previous_state, attempts = m.attempts - 1,
                         lease_until = CASE WHEN r.previous_state = 'sending' THEN now() END,
                         updated_at = now()
FROM unnest(CAST(:ids AS text[]), CAST(:states AS text[])) AS r(trigger_id, previous_state)
WHERE m.trigger_id = r.trigger_id AND m.state = 'sending' AND m.message_id IS NULL
"""
)
_KEEP_LEASES = text(
    """
UPDATE messages SET lease_until = now() + make_interval(secs => :lease_s)
WHERE trigger_id = ANY(CAST(:ids AS text[])) AND state = 'sending'
"""
)
_SENDING = text(
    """
UPDATE messages AS m SET channel = s.channel, message_id = s.message_id, address = s.address,
                         sent_body = s.sent_body, updated_at = now()
FROM unnest(CAST(:trigger_id AS text[]), CAST(:channel AS text[]), CAST(:message_id AS text[]),
            CAST(:address AS text[]), CAST(:sent_body AS text[]))
     AS s(trigger_id, channel, message_id, address, sent_body)
WHERE m.trigger_id = s.trigger_id
"""
)
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
_SMS_PROVIDER_IDS = text(
    "SELECT provider_id FROM messages WHERE channel = 'sms' AND address = :address "
    "AND provider_id IS NOT NULL AND updated_at >= :since"
)
"""Read through messages_sms_sent (migration 0015)."""
_WAITING = text("SELECT count(*) FROM messages WHERE state IN ('queued', 'deferred', 'retrying')")


def _columns(items: Sequence[Any], keys: Sequence[str]) -> dict[str, list[Any]]:
    """Per-row items as one array per key: a whole batch in one statement, through unnest."""
    return {key: [getattr(item, key) for item in items] for key in keys}


class PostgresMessageLog:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def enqueue(self, fired: Sequence[TriggerFiredEvent]) -> set[str]:
        unique = {event.id: event for event in fired if event.customerid is not None}
        if not unique:
            return set()
        events = list(unique.values())
        rows = await self._conn.execute(
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

    async def still_queued(self, trigger_ids: Sequence[str]) -> set[str]:
        if not trigger_ids:
            return set()
        rows = await self._conn.execute(_STILL_QUEUED, {"ids": list(trigger_ids)})
        return {row[0] for row in rows}

    async def engaged(self, how: str, message_id: str, at: datetime) -> None:
        await self._conn.execute(_ENGAGED[how], {"id": message_id, "at": at})

    async def claim(self, limit: int, lease_s: float, now: datetime) -> list[MessageRow]:
        await self._conn.execute(_CLAIM_TURN)
        rows = await self._conn.execute(_CLAIM, {"limit": limit, "lease_s": lease_s, "now": now})
        return [
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
                sent_body=r[12],
                age_s=float(r[13]),
            )
            for r in rows
        ]

    async def release(self, rows: Sequence[MessageRow]) -> None:
        if rows:
            await self._conn.execute(
                _RELEASE,
                {"ids": [r.trigger_id for r in rows], "states": [r.state for r in rows]},
            )

    async def keep_leases(self, trigger_ids: Sequence[str], lease_s: float) -> None:
        if trigger_ids:
            await self._conn.execute(_KEEP_LEASES, {"ids": list(trigger_ids), "lease_s": lease_s})

    async def mark_sending(self, items: Sequence[Sending]) -> None:
        if items:
            columns = _columns(items, ("trigger_id", "message_id", "address", "sent_body"))
            columns["channel"] = [item.channel.value for item in items]
            await self._conn.execute(_SENDING, columns)

    async def settle(self, items: Sequence[Settle], now: datetime) -> None:
        if items:
            keys = ("trigger_id", "state", "reason", "next_attempt_at", "provider_id")
            columns = _columns(items, keys)
            columns["refund"] = [1 if item.refund else 0 for item in items]
            await self._conn.execute(_SETTLE, {**columns, "now": now})

    async def history(
        self,
        keys: set[CustomerKey],
        now: datetime,
        window: timedelta,
        deciding: Sequence[str] = (),
    ) -> dict[CustomerKey, CustomerHistory]:
        found = {key: CustomerHistory({}, {}) for key in keys}
        if not keys:
            return found
        shops, customers = zip(*sorted(keys), strict=True)
        rows = await self._conn.execute(
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
        for shop, customer, journey, channel, transactional, sent_at, *engagement in rows:
            item = found[(shop, customer)]
            sent_on = Channel(channel)
            if not transactional:
                item.marketing.setdefault(sent_on, []).append(sent_at)
            item.last_by_journey[journey] = PreviousMessage(sent_on, sent_at, *engagement)
        return found

    async def sms_provider_ids(self, address: str, since: datetime) -> set[str]:
        rows = await self._conn.execute(_SMS_PROVIDER_IDS, {"address": address, "since": since})
        return {row[0] for row in rows}

    async def waiting(self) -> int:
        return int((await self._conn.execute(_WAITING)).scalar_one())


# --- The contact store -----------------------------------------------------------------------

_UPSERT = text(
    """
INSERT INTO contacts (
    shop_id, customer_id, email, phone, first_name, last_name, locale, time_zone,
    email_consent, email_consent_at, email_consent_source, email_undeliverable,
    sms_consent, sms_consent_at, sms_consent_source, sms_undeliverable
) VALUES (
    :shop_id, :customer_id, :email, :phone, :first_name, :last_name, :locale, :time_zone,
    :email_consent, :email_consent_at, :email_consent_source, :email_undeliverable,
    :sms_consent, :sms_consent_at, :sms_consent_source, :sms_undeliverable
)
ON CONFLICT (shop_id, customer_id) DO UPDATE SET
    email_undeliverable = CASE
        WHEN EXCLUDED.email_undeliverable IS NOT NULL THEN EXCLUDED.email_undeliverable
        WHEN EXCLUDED.email IS NOT NULL AND EXCLUDED.email IS DISTINCT FROM contacts.email
            THEN NULL
        WHEN EXCLUDED.email_consent AND EXCLUDED.email_consent_at > contacts.email_consent_at
            AND contacts.email_undeliverable LIKE :opted_out_pattern THEN NULL
        ELSE contacts.email_undeliverable END,
    sms_undeliverable = CASE
        WHEN EXCLUDED.sms_undeliverable IS NOT NULL THEN EXCLUDED.sms_undeliverable
        WHEN EXCLUDED.phone IS NOT NULL AND EXCLUDED.phone IS DISTINCT FROM contacts.phone
            THEN NULL
        WHEN EXCLUDED.sms_consent AND EXCLUDED.sms_consent_at > contacts.sms_consent_at
            AND contacts.sms_undeliverable LIKE :opted_out_pattern THEN NULL
        ELSE contacts.sms_undeliverable END,
    email = COALESCE(EXCLUDED.email, contacts.email),
    phone = COALESCE(EXCLUDED.phone, contacts.phone),
    first_name = COALESCE(EXCLUDED.first_name, contacts.first_name),
    last_name = COALESCE(EXCLUDED.last_name, contacts.last_name),
    locale = COALESCE(EXCLUDED.locale, contacts.locale),
    time_zone = COALESCE(EXCLUDED.time_zone, contacts.time_zone),
    email_consent = CASE WHEN EXCLUDED.email_consent_at >= contacts.email_consent_at
        OR (contacts.email_consent_at IS NULL AND EXCLUDED.email_consent_at IS NOT NULL)
        THEN EXCLUDED.email_consent ELSE contacts.email_consent END,
    email_consent_source = CASE WHEN EXCLUDED.email_consent_at >= contacts.email_consent_at
        OR (contacts.email_consent_at IS NULL AND EXCLUDED.email_consent_at IS NOT NULL)
        THEN EXCLUDED.email_consent_source ELSE contacts.email_consent_source END,
    email_consent_at = GREATEST(EXCLUDED.email_consent_at, contacts.email_consent_at),
    sms_consent = CASE WHEN EXCLUDED.sms_consent_at >= contacts.sms_consent_at
        OR (contacts.sms_consent_at IS NULL AND EXCLUDED.sms_consent_at IS NOT NULL)
        THEN EXCLUDED.sms_consent ELSE contacts.sms_consent END,
    sms_consent_source = CASE WHEN EXCLUDED.sms_consent_at >= contacts.sms_consent_at
        OR (contacts.sms_consent_at IS NULL AND EXCLUDED.sms_consent_at IS NOT NULL)
        THEN EXCLUDED.sms_consent_source ELSE contacts.sms_consent_source END,
    sms_consent_at = GREATEST(EXCLUDED.sms_consent_at, contacts.sms_consent_at),
    updated_at = now()
"""
)
_SUPPRESS = text(
    """
INSERT INTO dispatch_suppressions (shop_id, address, scope, reason, suppressed_at)
VALUES (:shop_id, :address, :scope, :reason, :at)
ON CONFLICT (shop_id, address, scope) DO UPDATE SET
    reason = CASE WHEN dispatch_suppressions.suppressed_at IS NULL
        OR EXCLUDED.suppressed_at >= dispatch_suppressions.suppressed_at
        THEN EXCLUDED.reason ELSE dispatch_suppressions.reason END,
    suppressed_at = GREATEST(EXCLUDED.suppressed_at, dispatch_suppressions.suppressed_at),
    updated_at = now()
"""
)
_CLEAR = text(
    """
INSERT INTO dispatch_suppressions (shop_id, address, scope, cleared_at)
SELECT :shop_id, :address, scope, :at FROM unnest(CAST(:scopes AS text[])) AS scope
ON CONFLICT (shop_id, address, scope) DO UPDATE SET
    cleared_at = GREATEST(EXCLUDED.cleared_at, dispatch_suppressions.cleared_at),
    updated_at = now()
"""
)
_CLEAR_MARKS = text(
    """
UPDATE contacts SET email_undeliverable = NULL, updated_at = now()
WHERE shop_id = :shop_id AND lower(email) = :address AND email_undeliverable IS NOT NULL
"""
)
_CATEGORY = text(
    """
INSERT INTO dispatch_category_preferences (shop_id, customer_id, category, subscribed, stated_at)
VALUES (:shop_id, :customer_id, :category, :subscribed, :at)
ON CONFLICT (shop_id, customer_id, category) DO UPDATE SET
    subscribed = CASE WHEN EXCLUDED.stated_at >= dispatch_category_preferences.stated_at
        THEN EXCLUDED.subscribed ELSE dispatch_category_preferences.subscribed END,
    stated_at = GREATEST(EXCLUDED.stated_at, dispatch_category_preferences.stated_at)
"""
)
_LOAD = text(
    """
SELECT c.shop_id, c.customer_id, c.email, c.phone, c.first_name, c.last_name, c.locale,
       c.time_zone, dp.preferred_channel, dp.monetary_score, c.email_consent,
       c.email_undeliverable, c.sms_consent, c.sms_undeliverable, s.suppressed_all,
       s.suppressed_marketing, c.email_consent_source, c.sms_consent_source,
       ARRAY(SELECT p.category FROM dispatch_category_preferences p
             WHERE p.shop_id = c.shop_id AND p.customer_id = c.customer_id
               AND NOT p.subscribed) AS dropped_categories
FROM contacts c
LEFT JOIN dispatch_profiles dp ON dp.shop_id = c.shop_id AND dp.customer_id = c.customer_id
LEFT JOIN LATERAL (
    SELECT max(d.reason) FILTER (WHERE d.scope = 'all') AS suppressed_all,
           max(d.reason) FILTER (WHERE d.scope = 'marketing') AS suppressed_marketing
    FROM dispatch_suppressions d
    WHERE d.shop_id = c.shop_id AND d.address = lower(c.email)
      AND d.suppressed_at IS NOT NULL
      AND (d.cleared_at IS NULL OR d.suppressed_at > d.cleared_at)
) s ON true
WHERE (c.shop_id, c.customer_id) IN (SELECT * FROM unnest(CAST(:shops AS text[]),
                                                           CAST(:customers AS text[])))
"""
)


def _refusal(channel: str) -> tuple[Any, Any]:
    """The statements that record a provider's refusal on `channel` (sender.py)."""
    withdraw = text(
        f"UPDATE contacts SET {channel}_consent = false, {channel}_consent_at = :at, "
        f"{channel}_consent_source = :source "
        "WHERE shop_id = :shop AND customer_id = :customer"
    )
    unusable = text(
        f"UPDATE contacts SET {channel}_undeliverable = :reason "
        "WHERE shop_id = :shop AND customer_id = :customer"
    )
    return withdraw, unusable


_REFUSALS = {channel: _refusal(channel.value) for channel in Channel}


def _params(facts: ContactFacts) -> dict[str, Any]:
    params: dict[str, Any] = {
        "shop_id": facts.shop_id,
        "customer_id": facts.customer_id,
        "opted_out_pattern": f"%{OPTED_OUT}%",
    }
    for name in FIELDS:
        params[name] = facts.fields.get(name)
    for channel in CHANNELS:
        fact = facts.consent.get(channel)
        params[f"{channel}_consent"] = fact.granted if fact else None
        params[f"{channel}_consent_at"] = fact.at if fact else None
        params[f"{channel}_consent_source"] = fact.stored_source if fact else None
        params[f"{channel}_undeliverable"] = facts.undeliverable.get(channel)
    return params


class PostgresContactStore:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def record(self, facts: Sequence[ContactFacts]) -> None:
        conn = self._conn
        for item in facts:
            await conn.execute(_UPSERT, _params(item))
            for fact in item.addresses:
                keys = {"shop_id": item.shop_id, "address": fact.address, "at": fact.at}
                if fact.scope is not None:
                    params = {**keys, "scope": fact.scope, "reason": fact.reason}
                    await conn.execute(_SUPPRESS, params)
                else:
                    await conn.execute(_CLEAR, {**keys, "scopes": [ALL, MARKETING]})
                    await conn.execute(_CLEAR_MARKS, keys)
            for category, stated in item.categories.items():
                await conn.execute(
                    _CATEGORY,
                    {
                        "shop_id": item.shop_id,
                        "customer_id": item.customer_id,
                        "category": category,
                        "subscribed": stated.granted,
                        "at": stated.at,
                    },
                )

    async def record_profiles(self, facts: Sequence[ProfileFacts]) -> None:
        await profiles.record(self._conn, facts)

    async def load(self, keys: set[CustomerKey]) -> dict[CustomerKey, Contact]:
        if not keys:
            return {}
        shops, customers = zip(*sorted(keys), strict=True)
        rows = await self._conn.execute(_LOAD, {"shops": list(shops), "customers": list(customers)})
        found: dict[CustomerKey, Contact] = {}
        for row in rows.mappings():
            preferred = row["preferred_channel"]
            found[(row["shop_id"], row["customer_id"])] = Contact(
                email=ChannelState(
                    row["email"],
                    row["email_consent"],
                    withdrawn=_withdrawn(row, "email"),
                    undeliverable=row["email_undeliverable"] or row["suppressed_all"],
                    marketing_suppressed=row["suppressed_marketing"],
                ),
                sms=ChannelState(
                    row["phone"],
                    row["sms_consent"],
                    row["sms_undeliverable"],
                    withdrawn=_withdrawn(row, "sms"),
                ),
                preferred_channel=Channel(preferred) if preferred else None,
                monetary_score=row["monetary_score"],
                time_zone=row["time_zone"],
                locale=row["locale"],
                first_name=row["first_name"],
                last_name=row["last_name"],
                dropped_categories=frozenset(row["dropped_categories"]),
            )
        return found

    async def refused(self, key: CustomerKey, channel: Channel, reason: str, at: datetime) -> None:
        withdraw, unusable = _REFUSALS[channel]
        who = {"shop": key[0], "customer": key[1]}
        if OPTED_OUT in reason:
            await self._conn.execute(withdraw, {**who, "at": at, "source": WITHDRAWN + "provider"})
        await self._conn.execute(unusable, {**who, "reason": reason[:300]})


# --- The outbox ------------------------------------------------------------------------------

_KEEP = text("INSERT INTO dispatch_outbox (topic, key, value) VALUES (:topic, :key, :value)")
_OLDEST = text(
    "SELECT id, topic, key, value FROM dispatch_outbox ORDER BY id LIMIT :limit "
    "FOR UPDATE SKIP LOCKED"
)
_DELETE = text("DELETE FROM dispatch_outbox WHERE id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)


class PostgresOutbox:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def keep(self, records: Sequence[Outbound]) -> None:
        if records:
            rows = [{"topic": r.topic, "key": r.key, "value": r.value} for r in records]
            await self._conn.execute(_KEEP, rows)

    async def oldest(self, limit: int) -> list[Kept]:
        rows = (await self._conn.execute(_OLDEST, {"limit": limit})).all()
        return [Kept(r.id, Outbound(r.topic, bytes(r.key), bytes(r.value))) for r in rows]

    async def remove(self, ids: Sequence[int]) -> None:
        if ids:
            await self._conn.execute(_DELETE, {"ids": list(ids)})


# --- The unit of work ------------------------------------------------------------------------


class PostgresTransaction:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn
        self.log = PostgresMessageLog(conn)
        self.contacts = PostgresContactStore(conn)
        self.outbox = PostgresOutbox(conn)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        async with self._conn.begin_nested():
            yield


class PostgresStore:
    """Dispatch's state in the database `engine` points at."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresTransaction]:
        async with self.engine.begin() as conn:
            yield PostgresTransaction(conn)
