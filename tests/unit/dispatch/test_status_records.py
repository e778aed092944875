"""Status records are built without the envelope model: they must be the model's bytes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from services.dispatch.statuses import SOURCE, KafkaStatuses
from shared.events.messages import (
    STATUS_EVENTS,
    MessageStatus,
    MessageUpdate,
    parse_message_event,
    status_event_id,
)
from shared.events.shop import Channel
from shared.topics import MESSAGES_STATUS
from tests.support.clocks import PinnedClock


def model_record(update: MessageUpdate, shop_id: str, customer_id: str, at: datetime) -> bytes:
    """The record as the event model writes it: validated, then dumped."""
    event = STATUS_EVENTS[update.status].model_validate(
        {
            "id": status_event_id(update),
            "source": SOURCE,
            "time": at,
            "subject": f"{update.campaign_id}/{update.step_id}",
            "shopid": shop_id,
            "customerid": customer_id,
            "data": update,
        }
    )
    return event.model_dump_json(exclude_none=True).encode()


def random_update(rng: random.Random) -> MessageUpdate:
    zones = [UTC, ZoneInfo("Asia/Tokyo"), ZoneInfo("America/St_Johns"), ZoneInfo("Europe/Paris")]
    until = datetime(2026, 3, 29, 1, 30, tzinfo=UTC) + timedelta(minutes=rng.randrange(10_000))
    fields: dict[str, Any] = {
        "message_id": f"m-{rng.randrange(10**6)}",
        "trigger_id": f"t-{rng.randrange(10**6)}",
        "campaign_id": rng.choice(["abandoned_cart", "welcome", "win_back"]),
        "step_id": rng.choice(["reminder-1", "email-2", "s"]),
        "variant": rng.choice([None, "A", "b-long"]),
        "channel": rng.choice([None, Channel.EMAIL, Channel.SMS]),
        "transactional": rng.random() < 0.3,
        "status": rng.choice(list(MessageStatus)),
        "reason": rng.choice([None, "quiet_hours", 'smtp 451 "busy" \u00e9\u2603\U0001f600\n']),
        "until": rng.choice(
            [
                None,
                until.replace(microsecond=rng.choice([0, 1, 999_999])).astimezone(
                    rng.choice(zones)
                ),
            ]
        ),
        "provider_id": rng.choice([None, "SM" + "a" * 32, "250 2.0.0 Ok: queued as 4F1"]),
        "attempt": rng.randrange(0, 9),
        "template_id": rng.choice([None, "cart/reminder-2"]),
        "locale": rng.choice([None, "en", "nl-NL"]),
    }
    return MessageUpdate(**fields)


def test_records_are_the_event_models_bytes() -> None:
    rng = random.Random(7)
    moments = [
        datetime(2026, 11, 24, 23, 0, tzinfo=UTC),
        datetime(2026, 11, 24, 23, 0, 5, 120_000, tzinfo=UTC),
        datetime(2026, 11, 24, 23, 0, 5, 7, tzinfo=ZoneInfo("Asia/Tokyo")),
    ]
    for n in range(3000):
        update = random_update(rng)
        at = moments[n % len(moments)]
        shop, customer = f"shop-{n % 7}", f"customer {n}"
        record = KafkaStatuses(None, PinnedClock(at)).status(shop, customer, update)  # type: ignore[arg-type]
        assert record.value == model_record(update, shop, customer, at), update
        assert record.key == f"{shop}:{customer}".encode()
        assert record.topic == MESSAGES_STATUS.name
        parsed = parse_message_event(record.value)
        assert parsed.data == update
        assert parsed.time == at
