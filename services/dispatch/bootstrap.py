"""One wiring function for dispatch: the parts built from their ports.

`build_dispatch` takes the state (a `Store`: PostgreSQL in production, memory in tests), the
providers (`Delivery`), the status outlet and the clock, and returns the intake, the sender,
the relay, the circuits and the throttles; `service.serve()` makes the real adapters, calls it
and runs what it returns. Tests call it with the in-memory store and a fake delivery, so
retries, fallbacks, pauses and resumes get fast tests over the same wiring as production.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer

from services.dispatch.intake import Intake
from services.dispatch.metrics import CHANNEL_PAUSED
from services.dispatch.outbox import Relay
from services.dispatch.ports import Store
from services.dispatch.sender import Circuit, Delivery, Outlet, Sender
from services.dispatch.settings import DispatchSettings
from services.dispatch.shop_profiles import ShopProfiles
from services.dispatch.templates.store import TemplateStore
from shared.clock import Clock
from shared.events.shop import Channel
from shared.keyring import LinkKeys
from shared.loop_producer import LoopProducer
from shared.token_bucket import TokenBucket

Throttle = Callable[[], Awaitable[None]]


def pace(per_s: float, clock: Clock) -> Throttle:
    """At most `per_s` calls a second to one provider, bursts of one second."""
    return TokenBucket(per_s, per_s, clock.monotonic).acquire


@dataclass(frozen=True)
class Senders:
    """What sending needs besides the state: the providers and what messages are made of."""

    delivery: Delivery
    templates: TemplateStore
    shops: ShopProfiles
    link_keys: LinkKeys


@dataclass(frozen=True)
class Intakes:
    """What reading the topics needs besides the state: the consumer and the producer that
    parks what cannot be read."""

    consumer: AIOKafkaConsumer
    producer: LoopProducer


@dataclass(frozen=True)
class Dispatch:
    """The parts `serve()` runs: each None when this process does not take its role."""

    intake: Intake | None
    sender: Sender | None
    relay: Relay | None
    circuits: dict[Channel, Circuit]
    throttles: dict[Channel, Throttle]


def build_dispatch(
    settings: DispatchSettings,
    *,
    store: Store,
    statuses: Outlet,
    clock: Clock,
    sending: Senders | None = None,
    reading: Intakes | None = None,
) -> Dispatch:
    """Build the parts for the roles this process takes: the sender and the relay when
    `sending` is given (and `send` is a role), the intake when `reading` is (and `intake`
    is). Circuits and throttles read `clock.monotonic`: pauses and rates are wall time."""
    circuits = {
        channel: Circuit(settings.circuit_failures, settings.circuit_max_pause_s, clock.monotonic)
        for channel in Channel
    }
    throttles = {
        Channel.EMAIL: pace(settings.email_per_s, clock),
        Channel.SMS: pace(settings.sms_per_s, clock),
    }
    sender = relay = intake = None
    if sending is not None and "send" in settings.roles:
        for channel, circuit in circuits.items():
            CHANNEL_PAUSED.labels(channel=channel.value).set_function(circuit.remaining_s)
        sender = Sender(
            store=store,
            templates=sending.templates,
            shops=sending.shops,
            delivery=sending.delivery,
            statuses=statuses,
            settings=settings,
            link_keys=sending.link_keys,
            clock=clock,
            circuits=circuits,
            throttles=throttles,
        )
        relay = Relay(store, statuses.send, settings.status_ack_timeout_s)
    if reading is not None and "intake" in settings.roles:
        intake = Intake(reading.consumer, reading.producer, store, statuses, clock)
    return Dispatch(intake, sender, relay, circuits, throttles)
