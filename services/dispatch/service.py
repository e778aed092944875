"""The dispatch process: intake loop, sender loops, health pages, clean shutdown.

Intake and sending are separate loops joined only by the message log in PostgreSQL: reading
`triggers.fired.v1` keeps going while a provider is down (messages wait as `retrying`), and a
sender's pace never holds back offsets. Several dispatch processes may run: intake splits by
partition (consumer group), senders share the log through `FOR UPDATE SKIP LOCKED`; so do
the `deciders` sender loops within one process. A process may also take one role only
(`NUDGE_DISPATCH_ROLES`): intake and sending then run on cores of their own and scale apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer

from services.dispatch import metrics
from services.dispatch.bootstrap import Intakes, Senders, build_dispatch
from services.dispatch.delivery import ProviderDelivery
from services.dispatch.intake import EVENT_TOPICS, TOPICS
from services.dispatch.ports import Store
from services.dispatch.providers.email import EmailSettings, SmtpSender
from services.dispatch.providers.sms import TwilioSettings, TwilioSms
from services.dispatch.settings import DispatchSettings
from services.dispatch.shop_profiles import ShopProfiles
from services.dispatch.statuses import KafkaStatuses, status_producer
from services.dispatch.stores.postgres import PostgresStore
from services.dispatch.templates.store import TemplateStore
from shared.clock import make_clock
from shared.db.engine import make_engine
from shared.garbage import tune_garbage_collector
from shared.health_http import health_app, start_site
from shared.kafka import consumer_fetch_options, pin_new_group_to_end, poll_gathering_options
from shared.keyring import LinkKeys
from shared.polls import PollGivenBack
from shared.settings import DatabaseSettings, KafkaSettings, LinkKeySettings

log = logging.getLogger(__name__)
OUTBOX_IDLE_S = 2.0
"""How often an empty outbox is looked at again."""


def link_keys(settings: DispatchSettings) -> LinkKeys | None:
    """The keys a sending process signs unsubscribe links with (NUDGE_LINK_KEYS): derived link
    keys only, never the master keys, which would open every shop's webhook secret. Intake
    signs nothing and needs none; a sender without them cannot start."""
    if "send" not in settings.roles:
        return None
    return LinkKeySettings().keys()


async def serve(settings: DispatchSettings, links: LinkKeys | None) -> None:
    """Make the real adapters, build the parts (bootstrap.build_dispatch), run them until
    SIGTERM / SIGINT, then stop them."""
    kafka, database = KafkaSettings(), DatabaseSettings()
    if "intake" in settings.roles and settings.start_from == "latest":
        await asyncio.to_thread(pin_new_group_to_end, kafka, settings.group_id, EVENT_TOPICS)
    engine = make_engine(database)
    store = PostgresStore(engine)
    clock = make_clock(settings.time_scale, settings.clock_origin)
    producer = status_producer(kafka, settings)
    statuses = KafkaStatuses(producer, clock)
    reading: Intakes | None = None
    if "intake" in settings.roles:
        consumer = AIOKafkaConsumer(
            *TOPICS,
            **kafka.client_options(),
            **consumer_fetch_options(),
            **poll_gathering_options(),
            group_id=settings.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        reading = Intakes(consumer, producer)
    delivery: ProviderDelivery | None = None
    sending: Senders | None = None
    if links is not None:
        delivery = ProviderDelivery(
            SmtpSender(EmailSettings()),
            TwilioSms(TwilioSettings()),  # account, token and sender from NUDGE_TWILIO_*
            status_callback=settings.sms_status_callback_url,
        )
        sending = Senders(
            delivery=delivery,
            templates=TemplateStore.load(settings.templates_dir),
            shops=ShopProfiles.load(settings.shops_dir, settings.default_shop_url),
            link_keys=links,
        )
    parts = build_dispatch(
        settings, store=store, statuses=statuses, clock=clock, sending=sending, reading=reading
    )
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)

    def not_ready() -> str | None:
        if reading is not None and not reading.consumer.assignment():
            return "no partitions assigned yet"
        return None

    await producer.start()
    if reading is not None:
        await reading.consumer.start()
    site = await start_site(health_app(not_ready), settings.host, settings.port)
    tune_garbage_collector()  # templates and clients loaded: what exists now lives long
    log.info(
        "dispatch running: %s (group %s)", " and ".join(sorted(settings.roles)), settings.group_id
    )
    tasks = [asyncio.create_task(_count_waiting(stopping, store), name="gauge")]
    if parts.intake is not None:
        tasks.append(
            asyncio.create_task(_forever(stopping, parts.intake.run_once, 0), name="intake")
        )
    if parts.sender is not None:
        tasks += [
            asyncio.create_task(
                _forever(stopping, parts.sender.run_round, settings.poll_interval_s),
                name=f"decider-{n}",
            )
            for n in range(settings.deciders)
        ]
        tasks.append(
            asyncio.create_task(
                _every(stopping, parts.sender.keep_leases, settings.lease_s / 3), name="leases"
            )
        )
    if parts.relay is not None:
        tasks.append(
            asyncio.create_task(
                _forever(stopping, parts.relay.run_once, OUTBOX_IDLE_S), name="outbox"
            )
        )
    try:
        await stopping.wait()
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if parts.sender is not None:
            await parts.sender.cancel_sends()
        if reading is not None:
            await reading.consumer.stop()
        await producer.stop()
        if delivery is not None:
            await delivery.close()
        await site.cleanup()
        await engine.dispose()


async def _every(
    stopping: asyncio.Event, work: Callable[[], Awaitable[None]], interval_s: float
) -> None:
    """Run `work` every `interval_s` until stopping; log its errors and go on."""
    while not stopping.is_set():
        await asyncio.sleep(interval_s)
        try:
            await work()
        except Exception:
            log.exception("dispatch housekeeping failed; trying again in %.1fs", interval_s)


async def _forever(
    stopping: asyncio.Event, work: Callable[[], Awaitable[int]], idle_s: float
) -> None:
    """Run `work` again and again; sleep `idle_s` when it found nothing; survive its errors."""
    delay = 0.5
    while not stopping.is_set():
        try:
            done = await work()
            delay = 0.5
        except PollGivenBack as exc:  # nothing skipped: the poll is read again after the delay
            cause = None if exc.transient else exc.__cause__
            log.warning("%s; retrying in %.1fs", exc, delay, exc_info=cause)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
            continue
        except Exception:
            log.exception("dispatch loop failed; retrying in %.1fs", delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
            continue
        if not done and idle_s:
            await asyncio.sleep(idle_s)


async def _count_waiting(stopping: asyncio.Event, store: Store) -> None:
    while not stopping.is_set():
        with contextlib.suppress(Exception):
            async with store.transaction() as tx:
                metrics.WAITING.set(await tx.log.waiting())
        await asyncio.sleep(5)


def run(settings: DispatchSettings | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = settings or DispatchSettings()
        links = link_keys(settings)
    except ValueError as exc:  # before connecting to anything: the setting, not a traceback
        raise SystemExit(f"dispatch cannot start: {exc}") from None
    asyncio.run(serve(settings, links))
