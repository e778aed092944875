"""The feedback service as it runs: started with link keys only, it learns contacts and sent
messages from the real topics into its PostgreSQL directory, and parks what it cannot read."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from kafka import KafkaProducer
from sqlalchemy.ext.asyncio import create_async_engine

from services.feedback.directory import ContactRef, SentMessage
from services.feedback.directory.postgres import PostgresDirectory
from shared.topics import MESSAGES_STATUS, SHOP_EVENTS, dead_letter_topic
from tests.support.feedback_process import running_feedback
from tests.support.kafka_records import TopicWindow
from tests.support.stack import Stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def feedback_url(stack: Stack, logs_dir: Path) -> Iterator[str]:
    with running_feedback(
        stack.kafka_bootstrap, stack.database_url, logs_dir / "feedback.log"
    ) as base:
        yield base


def _event(shop: str, kind: str, data: dict[str, Any], **extra: Any) -> bytes:
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": str(uuid.uuid4()),
            "source": "/tests",
            "type": kind,
            "time": "2026-11-23T10:00:00Z",
            "shopid": shop,
            "customerid": "c1",
            "data": data,
            **extra,
        }
    )


def _found(
    stack: Stack, phone: str, provider_id: str
) -> tuple[list[ContactRef], SentMessage | None]:
    async def look() -> tuple[list[ContactRef], SentMessage | None]:
        engine = create_async_engine(stack.database_url)
        try:
            directory = PostgresDirectory(engine)
            contacts = [c.ref for c in await directory.contacts_by_phone(phone)]
            return contacts, await directory.message_by_provider_id(provider_id)
        finally:
            await engine.dispose()

    return asyncio.run(look())


def test_the_index_learns_from_the_topics_and_parks_what_it_cannot_read(
    stack: Stack, feedback_url: str
) -> None:
    assert httpx.get(f"{feedback_url}/readyz", timeout=5).json()["checks"]["index"] is True
    shop = f"fb-{uuid.uuid4().hex[:8]}"
    phone = f"+3161{uuid.uuid4().int % 10**7:07d}"
    provider_id = f"SM{uuid.uuid4().hex}"
    dead_letters = TopicWindow(stack.kafka_bootstrap, dead_letter_topic(SHOP_EVENTS.name).name)
    producer = KafkaProducer(bootstrap_servers=stack.kafka_bootstrap)
    key = f"{shop}:c1".encode()
    status = {
        "message_id": f"m-{uuid.uuid4().hex}",
        "trigger_id": "t-1",
        "campaign_id": "abandoned_cart",
        "step_id": "reminder-1",
        "channel": "sms",
        "transactional": False,
        "status": "sent",
        "provider_id": provider_id,
    }
    producer.send(
        SHOP_EVENTS.name, key=key, value=_event(shop, "customer.created", {"phone": phone})
    )
    producer.send(SHOP_EVENTS.name, key=key, value=b"not an event")
    producer.send(MESSAGES_STATUS.name, key=key, value=_event(shop, "message.sent", status))
    producer.flush()
    producer.close()

    deadline = time.monotonic() + 30
    contacts, message = _found(stack, phone, provider_id)
    while (not contacts or message is None) and time.monotonic() < deadline:
        time.sleep(0.3)
        contacts, message = _found(stack, phone, provider_id)
    assert contacts == [ContactRef(shop, "c1")]
    assert message is not None and message.ref == ContactRef(shop, "c1")
    parked = [r for r in dead_letters.since_start() if r.key == f"{shop}:c1"]
    assert len(parked) == 1
    assert parked[0].value["service"] == "feedback"
    assert parked[0].value["payload"] == "not an event"
    dead_letters.close()
