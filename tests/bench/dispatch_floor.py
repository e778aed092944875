"""The floor under dispatch: the least any dispatch must do per message, measured here.

What the issue makes mandatory for every message, and nothing else:
- take the trigger from Kafka (a consumer group, offsets committed);
- write the message's row in PostgreSQL before the provider is called (exactly one send), and
  its outcome after;
- call the provider with dispatch's own clients (SMTP to the local sink, a message of
  dispatch's size built as dispatch builds it; Twilio's Messages API on the SMS sink);
- publish its status on Kafka and wait for the acknowledgement.

Every step is batched as far as it goes (one INSERT and one UPDATE per 200 messages, three
batches in flight, the same SMTP pool and HTTP connection limit as dispatch). No contact
lookup, consent, caps, templates, rendering, retries or metrics. `make bench` runs it against
the same sinks, database and broker as dispatch, so if the floor is below a target, no change
inside dispatch meets it on this machine.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import orjson
from aiokafka import AIOKafkaConsumer
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from deploy.local.sinks.sms_sink import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN
from services.dispatch.providers.email import EmailSettings, SmtpSender, build_email
from services.dispatch.providers.sms import TwilioSettings, TwilioSms
from services.dispatch.settings import DispatchSettings
from services.dispatch.statuses import status_producer
from shared.loop_producer import LoopProducer
from shared.settings import KafkaSettings
from tests.bench.broker import scratch_topic
from tests.support.dispatch_process import Sinks

BATCH = 200
BATCHES_IN_FLIGHT = DispatchSettings.model_fields["rounds_in_flight"].default
SMTP_POOL: int = EmailSettings.model_fields["pool_size"].default
"""NUDGE_SMTP_POOL_SIZE's default (the raw reference in dispatch.py uses as many)."""
SMS_CONNECTIONS: int = TwilioSettings.model_fields["max_connections"].default
"""NUDGE_TWILIO_MAX_CONNECTIONS's default."""
EMAIL_BYTES = 6_000
"""About the size of a rendered marketing email."""
SMS_BODY = "Ada, your cart at Bench is still waiting: https://bench.example/cart/1 STOP to opt out"


def email_text(size: int = EMAIL_BYTES) -> str:
    """A text body that makes an email of about `size` bytes with its headers."""
    return ("Your cart is waiting. " * (size // 22 + 1))[: max(100, size - 600)]


LOG_TABLE = "bench_floor_log"
Send = Callable[[str], Awaitable[str]]
_CLAIM = text(
    f"INSERT INTO {LOG_TABLE} (trigger_id, state) "
    "SELECT unnest(CAST(:ids AS text[])), 'sending' ON CONFLICT DO NOTHING"
)
_SETTLE = text(
    f"UPDATE {LOG_TABLE} AS l SET state = 'sent', provider_id = s.provider_id "
    "FROM unnest(CAST(:ids AS text[]), CAST(:sent AS text[])) AS s(trigger_id, provider_id) "
    "WHERE l.trigger_id = s.trigger_id"
)


async def _smtp_sender(port: int) -> tuple[Send, Callable[[], Awaitable[None]]]:
    """Dispatch's own SMTP client (its pool of reused connections)."""
    body = email_text()
    smtp = SmtpSender(EmailSettings(host="127.0.0.1", port=port, pool_size=SMTP_POOL))

    async def send(trigger_id: str) -> str:
        email = build_email(
            sender="Bench <hello@bench.example>",
            to=f"{trigger_id}@bench.example.com",
            subject="Your cart is waiting",
            text=body,
            message_id=f"{trigger_id}@floor.example",
        )
        return (await smtp.send(email)).provider_id

    return send, smtp.close


async def _sms_sender(base_url: str) -> tuple[Send, Callable[[], Awaitable[None]]]:
    """Dispatch's own Twilio client (its pool of keep-alive connections)."""
    twilio = TwilioSms(
        TwilioSettings(
            base_url=base_url,
            account_sid=DEFAULT_ACCOUNT_SID,
            auth_token=SecretStr(DEFAULT_AUTH_TOKEN),
            from_number="+15005550006",
            max_connections=SMS_CONNECTIONS,
        )
    )

    async def send(trigger_id: str) -> str:
        to = f"+14152{int(trigger_id[-6:], 16) % 10**6:06d}"
        return (await twilio.send(to, SMS_BODY, idempotency_key=trigger_id)).provider_id

    return send, twilio.close


async def _pipeline(
    kafka: KafkaSettings, topics: tuple[str, str], database_url: str, count: int, send: Send
) -> None:
    topic, status_topic = topics
    consumer = AIOKafkaConsumer(
        topic,
        **kafka.client_options(),
        group_id=f"floor-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = status_producer(kafka, DispatchSettings())  # dispatch's own
    db = create_async_engine(database_url, pool_size=BATCHES_IN_FLIGHT)
    await consumer.start()
    await producer.start()
    in_flight = asyncio.Semaphore(BATCHES_IN_FLIGHT)
    tasks: list[asyncio.Task[None]] = []

    async def handle(trigger_ids: list[str]) -> None:
        try:
            async with db.begin() as conn:
                await conn.execute(_CLAIM, {"ids": trigger_ids})
            provider_ids = await asyncio.gather(*(send(t) for t in trigger_ids))
            async with db.begin() as conn:
                await conn.execute(_SETTLE, {"ids": trigger_ids, "sent": provider_ids})
            acks = [
                producer.delivery(
                    status_topic,
                    orjson.dumps({"trigger_id": t, "status": "sent", "provider_id": p}),
                    t.encode(),
                )
                for t, p in zip(trigger_ids, provider_ids, strict=True)
            ]
            await asyncio.gather(*acks)
        finally:
            in_flight.release()

    try:
        taken = 0
        while taken < count:
            records = await consumer.getmany(timeout_ms=200, max_records=BATCH)
            for batch in records.values():
                await in_flight.acquire()
                trigger_ids = [orjson.loads(r.value)["id"] for r in batch]
                tasks.append(asyncio.create_task(handle(trigger_ids)))
                taken += len(trigger_ids)
        await asyncio.gather(*tasks)
        await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()
        await db.dispose()


async def floor_rate(
    channel: str, *, kafka: KafkaSettings, database_url: str, count: int, sinks: Sinks
) -> tuple[float, float]:
    """(messages/s, CPU µs per message of this process) over `count` messages."""
    with (
        scratch_topic(kafka.bootstrap_servers, 12, "bench.floor.triggers") as topic,
        scratch_topic(kafka.bootstrap_servers, 12, "bench.floor.status") as status_topic,
    ):
        await _produce_triggers(kafka, topic, count)
        await _fresh_log(database_url)
        if channel == "email":
            send, close = await _smtp_sender(sinks.smtp_port)
        else:
            send, close = await _sms_sender(sinks.sms_url)
        cpu_before, started = time.process_time(), time.perf_counter()
        try:
            await _pipeline(kafka, (topic, status_topic), database_url, count, send)
        finally:
            await close()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_before
    return count / elapsed, cpu / count * 1e6


async def _produce_triggers(kafka: KafkaSettings, topic: str, count: int) -> None:
    producer = LoopProducer(
        kafka, client_id="bench-floor", timeout_s=30, linger_ms=20, probe_topic=topic
    )
    await producer.start()
    try:
        await asyncio.gather(
            *(
                producer.delivery(topic, orjson.dumps({"id": uuid.uuid4().hex}), None)
                for _ in range(count)
            )
        )
    finally:
        await producer.stop()


async def _fresh_log(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    f"CREATE TABLE IF NOT EXISTS {LOG_TABLE} (trigger_id text PRIMARY KEY, "
                    "state text NOT NULL, provider_id text)"
                )
            )
            await conn.execute(text(f"TRUNCATE {LOG_TABLE}"))
    finally:
        await engine.dispose()
