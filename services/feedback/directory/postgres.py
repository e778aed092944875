"""The directory in PostgreSQL (tables `feedback_contacts`, `feedback_messages` and
`feedback_survey_asks`, the last joined to the messages by trigger id when they are read)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncEngine

from services.feedback.directory.model import (
    ConsentFact,
    Contact,
    ContactFacts,
    ContactRef,
    SentMessage,
    SurveyAsk,
)
from shared.events.feedback import SurveyKind
from shared.events.shop import Channel

_MERGE_CONTACT = text(
    """
INSERT INTO feedback_contacts (shop_id, customer_id, email, phone,
                               email_consent, email_consent_at, sms_consent, sms_consent_at,
                               locale)
VALUES (:shop_id, :customer_id, :email, :phone,
        :email_consent, :email_consent_at, :sms_consent, :sms_consent_at, :locale)
ON CONFLICT (shop_id, customer_id) DO UPDATE SET
    email = COALESCE(EXCLUDED.email, feedback_contacts.email),
    phone = COALESCE(EXCLUDED.phone, feedback_contacts.phone),
    locale = COALESCE(EXCLUDED.locale, feedback_contacts.locale),
    email_consent = CASE WHEN EXCLUDED.email_consent_at IS NOT NULL
        AND (feedback_contacts.email_consent_at IS NULL
             OR EXCLUDED.email_consent_at >= feedback_contacts.email_consent_at)
        THEN EXCLUDED.email_consent ELSE feedback_contacts.email_consent END,
    email_consent_at = GREATEST(EXCLUDED.email_consent_at, feedback_contacts.email_consent_at),
    sms_consent = CASE WHEN EXCLUDED.sms_consent_at IS NOT NULL
        AND (feedback_contacts.sms_consent_at IS NULL
             OR EXCLUDED.sms_consent_at >= feedback_contacts.sms_consent_at)
        THEN EXCLUDED.sms_consent ELSE feedback_contacts.sms_consent END,
    sms_consent_at = GREATEST(EXCLUDED.sms_consent_at, feedback_contacts.sms_consent_at),
    updated_at = now()
"""
)
_MERGE_CATEGORY = text(
    """
INSERT INTO feedback_category_preferences (shop_id, customer_id, category, subscribed, stated_at)
VALUES (:shop_id, :customer_id, :category, :subscribed, :at)
ON CONFLICT (shop_id, customer_id, category) DO UPDATE SET
    subscribed = CASE WHEN EXCLUDED.stated_at >= feedback_category_preferences.stated_at
        THEN EXCLUDED.subscribed ELSE feedback_category_preferences.subscribed END,
    stated_at = GREATEST(EXCLUDED.stated_at, feedback_category_preferences.stated_at)
"""
)
_RECORD_MESSAGE = text(
    """
INSERT INTO feedback_messages (message_id, shop_id, customer_id, channel, trigger_id,
                               campaign_id, transactional, provider_id, sent_at)
VALUES (:message_id, :shop_id, :customer_id, :channel, :trigger_id,
        :campaign_id, :transactional, :provider_id, :sent_at)
ON CONFLICT (message_id) DO NOTHING
"""
)
_RECORD_ASK = text(
    """
INSERT INTO feedback_survey_asks (trigger_id, shop_id, customer_id, survey, order_id, asked_at)
VALUES (:trigger_id, :shop_id, :customer_id, :survey, :order_id, :asked_at)
ON CONFLICT (trigger_id) DO NOTHING
"""
)
_CONTACT_COLUMNS = (
    "shop_id, customer_id, email, phone, email_consent, sms_consent, email_consent_at, "
    "sms_consent_at, locale"
)
_MESSAGE_COLUMNS = (
    "m.message_id, m.shop_id, m.customer_id, m.channel, m.trigger_id, m.campaign_id,"
    " m.transactional, m.provider_id, m.sent_at, a.survey, a.order_id"
)
_MESSAGES = (
    "feedback_messages m LEFT JOIN feedback_survey_asks a ON a.trigger_id = m.trigger_id"
    " AND a.shop_id = m.shop_id AND a.customer_id = m.customer_id"
)
"""Messages with the survey their trigger asked for (one ask per trigger at most)."""


_TEXTED = (
    "SELECT c.shop_id, c.customer_id, c.email, c.phone, c.email_consent, c.sms_consent,"
    " c.email_consent_at, c.sms_consent_at, c.locale, m.message_id, m.channel, m.trigger_id,"
    " m.campaign_id, m.transactional, m.provider_id, m.sent_at, m.survey, m.order_id"
    " FROM feedback_contacts c LEFT JOIN LATERAL ("
    f"  SELECT {_MESSAGE_COLUMNS} FROM {_MESSAGES}"
    "  WHERE m.shop_id = c.shop_id AND m.customer_id = c.customer_id"
    "  AND m.channel = 'sms' ORDER BY m.sent_at DESC, m.message_id DESC LIMIT 1) m ON true"
    " WHERE c.phone = :phone ORDER BY c.shop_id, c.customer_id"
)


class PostgresDirectory:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # Lookups are single statements: no transaction to begin and roll back around them.
        self._reads = engine.execution_options(isolation_level="AUTOCOMMIT")

    async def record(
        self,
        contacts: Sequence[ContactFacts],
        messages: Sequence[SentMessage],
        asks: Sequence[SurveyAsk] = (),
    ) -> None:
        async with self._engine.begin() as conn:
            for facts in contacts:  # in order: a later fact about a contact wins
                await conn.execute(_MERGE_CONTACT, _contact_params(facts))
                for category, fact in facts.categories:
                    await conn.execute(
                        _MERGE_CATEGORY,
                        {
                            "shop_id": facts.ref.shop_id,
                            "customer_id": facts.ref.customer_id,
                            "category": category,
                            "subscribed": fact.granted,
                            "at": fact.at,
                        },
                    )
            if messages:
                await conn.execute(_RECORD_MESSAGE, [_message_params(m) for m in messages])
            if asks:
                await conn.execute(_RECORD_ASK, [_ask_params(a) for a in asks])

    async def contact(self, ref: ContactRef) -> Contact | None:
        rows = await self._rows(
            f"SELECT {_CONTACT_COLUMNS} FROM feedback_contacts"
            " WHERE shop_id = :shop_id AND customer_id = :customer_id",
            shop_id=ref.shop_id,
            customer_id=ref.customer_id,
        )
        return _contact(rows[0]) if rows else None

    async def dropped_categories(self, ref: ContactRef) -> frozenset[str]:
        rows = await self._rows(
            "SELECT category FROM feedback_category_preferences WHERE shop_id = :shop_id"
            " AND customer_id = :customer_id AND NOT subscribed",
            shop_id=ref.shop_id,
            customer_id=ref.customer_id,
        )
        return frozenset(row["category"] for row in rows)

    async def contacts_by_phone(self, phone: str) -> list[Contact]:
        rows = await self._rows(
            f"SELECT {_CONTACT_COLUMNS} FROM feedback_contacts WHERE phone = :phone"
            " ORDER BY shop_id, customer_id",
            phone=phone,
        )
        return [_contact(row) for row in rows]

    async def texted(self, phone: str) -> list[tuple[Contact, SentMessage | None]]:
        rows = await self._rows(_TEXTED, phone=phone)
        return [(_contact(row), _message(row) if row["message_id"] else None) for row in rows]

    async def contacts_by_email(self, email: str) -> list[Contact]:
        rows = await self._rows(
            f"SELECT {_CONTACT_COLUMNS} FROM feedback_contacts"
            " WHERE email IS NOT NULL AND lower(email) = lower(:email)"
            " ORDER BY shop_id, customer_id",
            email=email,
        )
        return [_contact(row) for row in rows]

    async def message(self, message_id: str) -> SentMessage | None:
        rows = await self._rows(
            f"SELECT {_MESSAGE_COLUMNS} FROM {_MESSAGES} WHERE m.message_id = :message_id",
            message_id=message_id,
        )
        return _message(rows[0]) if rows else None

    async def message_by_provider_id(self, provider_id: str) -> SentMessage | None:
        rows = await self._rows(
            f"SELECT {_MESSAGE_COLUMNS} FROM {_MESSAGES}"
            " WHERE m.provider_id = :provider_id ORDER BY m.sent_at DESC LIMIT 1",
            provider_id=provider_id,
        )
        return _message(rows[0]) if rows else None

    async def last_message(
        self, refs: Sequence[ContactRef], channel: Channel
    ) -> SentMessage | None:
        if not refs:
            return None
        rows = await self._rows(
            f"SELECT {_MESSAGE_COLUMNS} FROM {_MESSAGES}"
            " WHERE (m.shop_id, m.customer_id) IN (SELECT * FROM unnest(CAST(:shops AS text[]),"
            " CAST(:customers AS text[]))) AND m.channel = :channel"
            " ORDER BY m.sent_at DESC, m.message_id DESC LIMIT 1",
            shops=[r.shop_id for r in refs],
            customers=[r.customer_id for r in refs],
            channel=channel.value,
        )
        return _message(rows[0]) if rows else None

    async def _rows(self, statement: str, **params: Any) -> list[RowMapping]:
        async with self._reads.connect() as conn:
            result = await conn.execute(text(statement), params)
            return list(result.mappings())


def _consent_params(prefix: str, fact: ConsentFact | None) -> dict[str, Any]:
    return {
        f"{prefix}_consent": None if fact is None else fact.granted,
        f"{prefix}_consent_at": None if fact is None else fact.at,
    }


def _contact_params(facts: ContactFacts) -> dict[str, Any]:
    return {
        "shop_id": facts.ref.shop_id,
        "customer_id": facts.ref.customer_id,
        "email": facts.email,
        "phone": facts.phone,
        **_consent_params("email", facts.email_consent),
        **_consent_params("sms", facts.sms_consent),
        "locale": facts.locale,
    }


def _message_params(message: SentMessage) -> dict[str, Any]:
    return {
        "message_id": message.message_id,
        "shop_id": message.ref.shop_id,
        "customer_id": message.ref.customer_id,
        "channel": message.channel.value,
        "trigger_id": message.trigger_id,
        "campaign_id": message.campaign_id,
        "transactional": message.transactional,
        "provider_id": message.provider_id,
        "sent_at": message.sent_at,
    }


def _ask_params(ask: SurveyAsk) -> dict[str, Any]:
    return {
        "trigger_id": ask.trigger_id,
        "shop_id": ask.ref.shop_id,
        "customer_id": ask.ref.customer_id,
        "survey": ask.survey.value,
        "order_id": ask.order_id,
        "asked_at": ask.asked_at,
    }


def _contact(row: RowMapping) -> Contact:
    return Contact(
        ref=ContactRef(row["shop_id"], row["customer_id"]),
        email=row["email"],
        phone=row["phone"],
        email_consent=row["email_consent"],
        sms_consent=row["sms_consent"],
        email_consent_at=row["email_consent_at"],
        sms_consent_at=row["sms_consent_at"],
        locale=row["locale"],
    )


def _message(row: RowMapping) -> SentMessage:
    sent_at: datetime = row["sent_at"]
    return SentMessage(
        message_id=row["message_id"],
        ref=ContactRef(row["shop_id"], row["customer_id"]),
        channel=Channel(row["channel"]),
        trigger_id=row["trigger_id"],
        campaign_id=row["campaign_id"],
        transactional=row["transactional"],
        provider_id=row["provider_id"],
        sent_at=sent_at,
        survey=SurveyKind(row["survey"]) if row["survey"] else None,
        order_id=row["order_id"],
    )
