"""The directory's feed: contacts from shop events and feedback, sent messages from statuses,
and the campaign steps that asked for a survey from the triggers' records.

`facts_from` is the pure part (a parsed record in, what it says about contacts and messages
out); `Indexer` reads a poll, writes its facts in one go (record by record when PostgreSQL
refuses one, which is then parked with the database's message), parks records that do not
parse, and lets shared/polls.py commit or give the poll back.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer
from pydantic import ValidationError

from services.feedback import metrics
from services.feedback.attribution import consumer as attribution
from services.feedback.directory import (
    ConsentFact,
    ContactFacts,
    ContactRef,
    Directory,
    SentMessage,
    SurveyAsk,
)
from services.feedback.reports import facts as reports
from shared.db import errors as db_errors
from shared.dead_letters import Parked, park
from shared.events import (
    FeedbackEvent,
    MessageEvent,
    ShopEvent,
    TriggerEvent,
    parse_feedback_event,
    parse_message_event,
    parse_shop_event,
    parse_trigger_event,
)
from shared.events import catalog as shop_events
from shared.events import feedback as fb
from shared.events.messages import MessageSentEvent
from shared.events.peek import Skipping, types_of
from shared.events.shop import Channel, ConsentStatus, CustomerData, SubscriptionStatus
from shared.events.triggers import TriggerFired, TriggerFiredEvent
from shared.loop_producer import LoopProducer
from shared.polls import Record, consume_once
from shared.topics import FEEDBACK_EVENTS, MESSAGES_STATUS, SHOP_EVENTS, TRIGGERS_FIRED

log = logging.getLogger(__name__)
TOPICS = (SHOP_EVENTS.name, MESSAGES_STATUS.name, FEEDBACK_EVENTS.name, TRIGGERS_FIRED.name)
_PARSERS = {
    SHOP_EVENTS.name: parse_shop_event,
    MESSAGES_STATUS.name: parse_message_event,
    FEEDBACK_EVENTS.name: parse_feedback_event,
    TRIGGERS_FIRED.name: parse_trigger_event,
}
_INDEXED = (
    shop_events.CustomerCreatedEvent,
    shop_events.CustomerUpdatedEvent,
    shop_events.SubscriptionChangedEvent,
    fb.ConsentWithdrawnEvent,
    fb.ConsentGrantedEvent,
    fb.CategoryPreferenceEvent,
    MessageSentEvent,
    TriggerFiredEvent,
)
"""The types `facts_from` learns something from."""
_VALIDATED = types_of(_INDEXED) | attribution.WANTED_TYPES | reports.WANTED_TYPES
"""The index parks, for the whole service, the unreadable records of every type one of its
readers acts on (attribution and reports leave that to it); the other known types are passed
over without being validated (shared/events/peek.py)."""
_SKIPPING = {
    SHOP_EVENTS.name: Skipping(ShopEvent, _VALIDATED),
    MESSAGES_STATUS.name: Skipping(MessageEvent, _VALIDATED),
    FEEDBACK_EVENTS.name: Skipping(FeedbackEvent, _VALIDATED),
    TRIGGERS_FIRED.name: Skipping(TriggerEvent, _VALIDATED),
}


@dataclass
class Facts:
    """What some records say: contact facts in order, sent messages, survey asks."""

    contacts: list[ContactFacts] = field(default_factory=list)
    messages: list[SentMessage] = field(default_factory=list)
    asks: list[SurveyAsk] = field(default_factory=list)

    def add(self, other: Facts) -> None:
        self.contacts += other.contacts
        self.messages += other.messages
        self.asks += other.asks

    def __bool__(self) -> bool:
        return bool(self.contacts or self.messages or self.asks)


def survey_order(fired: TriggerFired) -> str | None:
    """The order a step's survey is about: the trigger's order, else its shipment's (a review
    request is per delivered order; triggers end it when an answer names that order)."""
    context = fired.context
    if context.order is not None:
        return context.order.order_id
    if context.shipment is not None:
        return context.shipment.order_id
    return None


def facts_from(event: ShopEvent | FeedbackEvent | MessageEvent | TriggerEvent) -> Facts:
    """What one event tells the directory (nothing for most events, or without a customer)."""
    if event.customerid is None:
        return Facts()
    ref = ContactRef(event.shopid, event.customerid)
    data = event.data
    if isinstance(event, shop_events.CustomerCreatedEvent | shop_events.CustomerUpdatedEvent):
        customer: CustomerData = event.data
        consent = {
            channel: ConsentFact(given.status is ConsentStatus.GRANTED, given.recorded_at)
            for channel, given in (
                (Channel.EMAIL, customer.consent.email),
                (Channel.SMS, customer.consent.sms),
            )
            if given is not None
        }
        return _contact(
            ref,
            customer.email,
            customer.phone,
            consent.get(Channel.EMAIL),
            consent.get(Channel.SMS),
            customer.locale,
        )
    if isinstance(event, shop_events.SubscriptionChangedEvent):
        granted = event.data.status is SubscriptionStatus.SUBSCRIBED
        return _consent(ref, event.data.channel, ConsentFact(granted, event.time), data)
    if isinstance(event, fb.ConsentWithdrawnEvent | fb.ConsentGrantedEvent):
        granted = isinstance(event, fb.ConsentGrantedEvent)
        return _consent(ref, event.data.channel, ConsentFact(granted, event.time), data)
    if isinstance(event, fb.CategoryPreferenceEvent):
        fact = ConsentFact(event.data.subscribed, event.time)
        return Facts([ContactFacts(ref, categories=((event.data.category, fact),))])
    # A complaint is a suppression (services/feedback/bounces/), not a consent statement: the
    # preference page must not tell a customer who never unsubscribed that they did.
    if isinstance(event, MessageSentEvent) and (channel := event.data.channel) is not None:
        update = event.data
        sent = SentMessage(
            message_id=update.message_id,
            ref=ref,
            channel=channel,
            trigger_id=update.trigger_id,
            campaign_id=update.campaign_id,
            transactional=update.transactional,
            provider_id=update.provider_id,
            sent_at=event.time,
        )
        return Facts(messages=[sent])
    if isinstance(event, TriggerFiredEvent) and (survey := event.data.survey) is not None:
        ask = SurveyAsk(event.id, ref, survey, survey_order(event.data), event.time)
        return Facts(asks=[ask])
    return Facts()


def _contact(
    ref: ContactRef,
    email: str | None,
    phone: str | None,
    email_consent: ConsentFact | None,
    sms_consent: ConsentFact | None,
    locale: str | None = None,
) -> Facts:
    facts = ContactFacts(ref, email, phone, email_consent, sms_consent, locale=locale)
    return Facts(contacts=[facts])


def _consent(ref: ContactRef, channel: Channel, fact: ConsentFact, data: object) -> Facts:
    email = getattr(data, "email", None)
    phone = getattr(data, "phone", None)
    if channel is Channel.EMAIL:
        return _contact(ref, email, phone, fact, None)
    return _contact(ref, email, phone, None, fact)


class Indexer:
    def __init__(
        self, consumer: AIOKafkaConsumer, producer: LoopProducer, directory: Directory
    ) -> None:
        self.consumer = consumer
        self.producer = producer
        self.directory = directory

    async def run_once(self, timeout_ms: int = 500, max_records: int = 1000) -> int:
        return await consume_once(
            self.consumer,
            self.handle,
            timeout_ms=timeout_ms,
            max_records=max_records,
            given_back=metrics.POLLS_GIVEN_BACK.inc,
        )

    async def handle(self, records: Sequence[Record]) -> None:
        """Store what the records say, park what cannot be read or stored; return once the
        dead letters are acknowledged (raise, and the poll is read again)."""
        parked: list[Parked] = []
        work: list[tuple[Record, Facts]] = []
        for record in records:
            raw = record.value or b""
            if _SKIPPING[record.topic].skips(raw):
                metrics.INDEXED.labels(record.topic, "ignored").inc()
                continue
            try:
                facts = facts_from(_PARSERS[record.topic](raw))
            except (ValidationError, ValueError) as exc:
                parked.append(self._park(record, f"invalid record: {exc}"))
                continue
            if facts:
                work.append((record, facts))
            else:
                metrics.INDEXED.labels(record.topic, "ignored").inc()
        for record, why in await self._store(work):
            parked.append(self._park(record, f"cannot be stored: {why}"))
        await asyncio.gather(*(self.producer.delivery(p.topic, p.value, p.key) for p in parked))

    async def _store(self, work: Sequence[tuple[Record, Facts]]) -> list[tuple[Record, str]]:
        """All at once; when PostgreSQL refuses a row, each record alone. The refused ones.
        A poll that says nothing to the directory costs no transaction."""
        if not work:
            return []
        everything = Facts()
        for _, facts in work:
            everything.add(facts)
        try:
            await self.directory.record(everything.contacts, everything.messages, everything.asks)
            for record, _ in work:
                metrics.INDEXED.labels(record.topic, "stored").inc()
            return []
        except Exception as exc:
            if not db_errors.is_permanent(exc):
                raise
        refused = []
        for record, facts in work:
            try:
                await self.directory.record(facts.contacts, facts.messages, facts.asks)
                metrics.INDEXED.labels(record.topic, "stored").inc()
            except Exception as exc:
                if not db_errors.is_permanent(exc):
                    raise
                refused.append((record, db_errors.describe(exc)))
        return refused

    @staticmethod
    def _park(record: Record, reason: str) -> Parked:
        metrics.INDEXED.labels(record.topic, "parked").inc()
        return park(record, service="feedback", reason=reason)
