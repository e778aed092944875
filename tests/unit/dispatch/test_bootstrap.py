"""The one wiring function: the parts a process's roles call for, over whatever store it is
given; here the in-memory one, read by the intake and sent from by the sender."""

from __future__ import annotations

from typing import cast

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from services.dispatch.bootstrap import Intakes, build_dispatch
from services.dispatch.ports import Store
from services.dispatch.settings import DispatchSettings
from services.dispatch.statuses import KafkaStatuses
from services.dispatch.stores.memory import MemoryStore
from shared.events.shop import Channel
from shared.loop_producer import LoopProducer
from shared.topics import SHOP_EVENTS, TRIGGERS_FIRED
from tests.support.clocks import PinnedClock
from tests.support.dispatch_factories import NOON, RecordingProducer, cart_fired, rig


def consumed(topic: str, value: bytes, offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, 0, offset, 0, 0, b"acme:c1", value, None, 0, len(value), ())


def customer_updated() -> bytes:
    granted = {"status": "granted", "source": "signup_form", "recorded_at": NOON.isoformat()}
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": "acme-c1-updated",
            "source": "/shops/acme/test",
            "type": "customer.updated",
            "time": NOON.isoformat(),
            "shopid": "acme",
            "customerid": "c1",
            "data": {
                "email": "ada@example.com",
                "time_zone": "UTC",
                "consent": {"email": granted},
            },
        }
    )


def test_a_process_builds_the_parts_of_its_roles_only() -> None:
    clock = PinnedClock(NOON)
    producer = RecordingProducer()
    reading = Intakes(cast(AIOKafkaConsumer, None), cast(LoopProducer, producer))
    parts = build_dispatch(
        DispatchSettings(roles=frozenset({"intake"})),
        store=cast(Store, MemoryStore(clock)),
        statuses=KafkaStatuses(cast(LoopProducer, producer), clock),
        clock=clock,
        reading=reading,
    )
    assert parts.intake is not None
    assert (parts.sender, parts.relay) == (None, None)
    assert set(parts.circuits) == set(parts.throttles) == set(Channel)


async def test_what_the_intake_stores_the_sender_sends() -> None:
    r = rig()
    reading = Intakes(cast(AIOKafkaConsumer, None), cast(LoopProducer, r.producer))
    parts = build_dispatch(
        DispatchSettings(),
        store=cast(Store, r.store),
        statuses=KafkaStatuses(cast(LoopProducer, r.producer), r.clock),
        clock=r.clock,
        reading=reading,
    )
    assert parts.intake is not None
    fired = cart_fired("acme", "c1", channels=("email",))
    trigger = fired.model_dump_json(exclude_none=True).encode()

    await parts.intake.handle(
        [
            consumed(SHOP_EVENTS.name, customer_updated(), 0),
            consumed(TRIGGERS_FIRED.name, trigger, 0),
        ]
    )
    assert [s["status"] for s in r.producer.statuses(fired.id)] == ["queued"]

    assert await r.round() == 1
    assert r.store.message(fired.id).state == "sent"
    assert [e["to"] for e in r.delivery.emails] == ["ada@example.com"]


def test_a_paused_channel_shows_on_the_metric_until_its_pause_ends() -> None:
    """The provider-circuit alert reads this gauge: seconds until the channel sends again."""
    from prometheus_client import REGISTRY

    def paused(channel: Channel) -> float | None:
        return REGISTRY.get_sample_value(
            "nudge_dispatch_channel_paused_seconds", {"channel": channel.value}
        )

    built = rig(circuit_max_pause_s=30)
    assert paused(Channel.SMS) == 0.0
    built.dispatch.circuits[Channel.SMS].trip()
    assert paused(Channel.SMS) == 30.0
    assert paused(Channel.EMAIL) == 0.0
    built.clock.advance(12)
    assert paused(Channel.SMS) == 18.0
    built.clock.advance(18)
    assert paused(Channel.SMS) == 0.0
