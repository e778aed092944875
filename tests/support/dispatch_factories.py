"""Dispatch's test factories: triggers, contact facts, a fake Delivery that keeps what the
providers got, a producer that records what dispatch published, and the wiring
(bootstrap.build_dispatch) over the in-memory store."""

from __future__ import annotations

import asyncio
import functools
import itertools
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import orjson
from pydantic import SecretStr

from services.dispatch.bootstrap import Dispatch, Senders, build_dispatch
from services.dispatch.contacts import ConsentFact, ContactFacts
from services.dispatch.ports import Store
from services.dispatch.providers.base import SendResult
from services.dispatch.settings import DispatchSettings
from services.dispatch.shop_profiles import ShopProfiles
from services.dispatch.statuses import KafkaStatuses
from services.dispatch.stores.memory import MemoryStore
from services.dispatch.templates.store import RenderedEmail, RenderedSms, TemplateStore
from shared.events import trigger_id
from shared.events.dead_letter import DeadLetter
from shared.events.shop import Channel
from shared.events.triggers import TriggerFiredEvent
from shared.keyring import MasterKeyRing
from shared.loop_producer import LoopProducer
from shared.topics import MESSAGES_DLQ, MESSAGES_STATUS
from tests.support.clocks import PinnedClock
from tests.support.ingest_process import TEST_SECRET_KEY

NOON = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
"""A weekday noon in UTC: outside SMS quiet hours for customers in UTC."""
TEST_LINK_KEYS = MasterKeyRing.single(SecretStr(TEST_SECRET_KEY), "test").link_keys()
PHONE = "+31612345678"
RELAXED_SHOP = """
frequency_cap: {count: 100, hours: 1}
tracking: {clicks: false, opens: false}
"""
"""A shop whose messages are the same text each time (no tracked links) and uncapped: for
tests that send one customer several identical messages."""


def cart_fired(
    shop: str,
    customer: str,
    *,
    journey: str = "j-1",
    step: str = "reminder-2",
    channels: Sequence[str] = ("email", "sms"),
    transactional: bool = False,
    at: datetime = NOON,
) -> TriggerFiredEvent:
    """An abandoned-cart step that renders as email and as SMS (built-in templates)."""
    return TriggerFiredEvent.model_validate(
        {
            "id": trigger_id(shop, customer, "abandoned_cart", journey, step),
            "source": "/tests",
            "time": at,
            "shopid": shop,
            "customerid": customer,
            "data": {
                "campaign_id": "abandoned_cart",
                "journey_id": journey,
                "step_id": step,
                "step_index": 1,
                "transactional": transactional,
                "channels": list(channels),
                "template_id": f"cart/{step}",
                "due_at": at.isoformat(),
                "context": {
                    "cart": {
                        "items": [{"product_id": "p1", "title": "Coffee beans", "quantity": 2}],
                        "recovery_url": f"https://{shop}.example/cart/{customer}",
                    }
                },
            },
        }
    )


def contact(
    shop: str,
    customer: str,
    *,
    email: str | None = "ada@example.com",
    phone: str | None = PHONE,
    email_consent: bool | None = True,
    sms_consent: bool | None = True,
    at: datetime = NOON - timedelta(days=1),
    time_zone: str | None = "UTC",
    first_name: str | None = "Ada",
    undeliverable: dict[str, str] | None = None,
) -> ContactFacts:
    """What a `customer.updated` event says: addresses, names, consent as of `at`."""
    consent = {
        channel: ConsentFact(granted, at, "signup_form")
        for channel, granted in (("email", email_consent), ("sms", sms_consent))
        if granted is not None
    }
    fields = {
        "email": email,
        "phone": phone,
        "first_name": first_name,
        "last_name": None,
        "locale": None,
        "time_zone": time_zone,
    }
    return ContactFacts(shop, customer, fields, consent, undeliverable or {})


@dataclass(frozen=True)
class ProviderText:
    """A message the SMS provider holds, as its Messages list shows it."""

    sid: str
    to: str
    body: str
    created_at: datetime


@dataclass
class FakeDelivery:
    """The providers: every call recorded, failures scripted per channel, and the SMS
    provider's Messages list, searched the way Twilio's is (exact body, created since, a sid
    not taken, newest first). With `hang` a call is received by the provider and never
    answered: the sender dies (or is stopped) mid-call, after the provider took the message.
    With `stall` it is never answered and the provider never got it: the sender died before
    its request went out."""

    clock: PinnedClock
    emails: list[dict[str, Any]] = field(default_factory=list)
    texts: list[ProviderText] = field(default_factory=list)
    finds: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[Channel, list[Exception]] = field(
        default_factory=lambda: {Channel.EMAIL: [], Channel.SMS: []}
    )
    hang: set[Channel] = field(default_factory=set)
    stall: set[Channel] = field(default_factory=set)
    calls: int = 0
    """Calls made, failed ones included (finds excluded)."""
    _sids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def fail(self, channel: Channel, *errors: Exception) -> None:
        """The next calls on `channel` raise these, in order."""
        self.failures[channel].extend(errors)

    def provider_text(self, to: str, body: str) -> ProviderText:
        """A message the provider has (sent by an attempt whose answer was lost)."""
        text = ProviderText(f"SM{next(self._sids):032x}", to, body, self.clock.now())
        self.texts.append(text)
        return text

    async def email(
        self,
        *,
        to: str,
        rendered: RenderedEmail,
        message_id: str,
        brand_from: str,
        reply_to: str | None,
        unsubscribe: str | None,
    ) -> SendResult:
        await self._before(Channel.EMAIL)
        self.emails.append({"to": to, "message_id": message_id, "subject": rendered.subject})
        if Channel.EMAIL in self.hang:
            await asyncio.Event().wait()
        return SendResult(f"<{message_id}@example>")

    async def sms(self, *, to: str, rendered: RenderedSms, message_id: str) -> SendResult:
        await self._before(Channel.SMS)
        text = self.provider_text(to, rendered.body)
        if Channel.SMS in self.hang:
            await asyncio.Event().wait()
        return SendResult(text.sid, status="queued")

    async def _before(self, channel: Channel) -> None:
        self.calls += 1
        if self.failures[channel]:
            raise self.failures[channel].pop(0)
        if channel in self.stall:
            await asyncio.Event().wait()

    async def find_sms(
        self, *, to: str, body: str, since: datetime, taken: Collection[str]
    ) -> SendResult | None:
        self.finds.append({"to": to, "body": body, "since": since, "taken": set(taken)})
        for text in reversed(self.texts):
            fits = text.to == to and text.body == body and text.sid not in taken
            if fits and text.created_at >= since - timedelta(minutes=1):
                return SendResult(text.sid, status="sent")
        return None


class RecordingProducer:
    """A producer whose every record the broker acknowledges at once, kept in order."""

    def __init__(self) -> None:
        self.records: list[tuple[str, bytes | None, bytes]] = []

    def delivery(self, topic: str, value: bytes, key: bytes | None = None) -> asyncio.Future[None]:
        self.records.append((topic, key, value))
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done

    def statuses(self, trigger: str | None = None) -> list[dict[str, Any]]:
        """The status updates published (their `data`), of one trigger when given."""
        found = [
            orjson.loads(value)["data"]
            for topic, _, value in self.records
            if topic == MESSAGES_STATUS.name
        ]
        return [d for d in found if trigger is None or d["trigger_id"] == trigger]

    def dead_letters(self) -> list[DeadLetter]:
        return [
            DeadLetter.model_validate_json(value)
            for topic, _, value in self.records
            if topic == MESSAGES_DLQ.name
        ]


@dataclass
class Rig:
    """Dispatch wired over the in-memory store, a fake delivery and a recording producer."""

    clock: PinnedClock
    store: MemoryStore
    delivery: FakeDelivery
    producer: RecordingProducer
    dispatch: Dispatch

    async def round(self) -> int:
        """One sending round, its sends finished; how many rows it claimed."""
        sender = self.dispatch.sender
        assert sender is not None
        claimed = await sender.run_round()
        await sender.drain()
        return claimed

    async def enqueue(self, *fired: TriggerFiredEvent, facts: Sequence[ContactFacts] = ()) -> None:
        async with self.store.transaction() as tx:
            await tx.contacts.record(list(facts))
            await tx.log.enqueue(list(fired))

    async def crash_mid_send(self) -> None:
        """A round whose calls never answer (`FakeDelivery.hang` or `stall`), stopped once its
        calls are out: the rows stay `sending` until their lease runs out."""
        sender = self.dispatch.sender
        assert sender is not None
        assert await sender.run_round()
        for _ in range(200):  # nothing here waits on I/O: the calls are out within these
            await asyncio.sleep(0)
        await sender.cancel_sends()

    def restarted(self, **settings: Any) -> Rig:
        """Another dispatch process on the same state and providers (after a crash)."""
        return rig(self.clock, self.store, self.delivery, **settings)


@functools.cache
def _templates(templates_dir: Path | None) -> TemplateStore:
    """Loaded once per folder: loading compiles every template."""
    return TemplateStore.load(templates_dir)


def rig(
    clock: PinnedClock | None = None,
    store: MemoryStore | None = None,
    delivery: FakeDelivery | None = None,
    *,
    shops_dir: Path | None = None,
    templates_dir: Path | None = None,
    **settings: Any,
) -> Rig:
    """Dispatch as `serve()` builds it, on memory: `settings` are DispatchSettings fields."""
    clock = clock or PinnedClock(NOON)
    store = store or MemoryStore(clock)
    delivery = delivery or FakeDelivery(clock)
    producer = RecordingProducer()
    statuses = KafkaStatuses(cast(LoopProducer, producer), clock)
    parts = Senders(
        delivery=delivery,
        templates=_templates(templates_dir),
        shops=ShopProfiles.load(shops_dir, "https://{shop_id}.example"),
        link_keys=TEST_LINK_KEYS,
    )
    dispatch = build_dispatch(
        DispatchSettings(**settings),
        store=cast(Store, store),
        statuses=statuses,
        clock=clock,
        sending=parts,
    )
    return Rig(clock, store, delivery, producer, dispatch)
