"""One sending round: claim due messages, decide, render, record the choice, send, record.

Three short transactions per round, never one per provider call:
1. claim a batch (`sending`, with a lease) — rows of crashed senders come back here too;
2. record every decision: the channel and message id of each send (before any provider call),
   deferrals, skips;
3. as the provider calls answer, record sent / retrying / failed (a batch's outcomes in a few
   groups, so that a slow call holds back none but its own).
Status records go to `messages.status.v1`, acknowledged, before each commit; those the broker
does not acknowledge in time are committed to the outbox instead (outbox.py).

Messages of one customer in one batch are decided in order, each seeing the ones before it,
so two marketing messages in the same round cannot both slip under the frequency cap.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import random
from collections import OrderedDict
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Iterator,
)
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import formataddr
from typing import Protocol

from services.dispatch import metrics, outbox, tracked_text
from services.dispatch.contacts import OPTED_OUT
from services.dispatch.incentives import Incentive, incentive_for
from services.dispatch.links import LinkSigner, finish_email
from services.dispatch.message_log import CustomerHistory, MessageRow
from services.dispatch.outbox import Outbound
from services.dispatch.policy import (
    Contact,
    Defer,
    Send,
    Skip,
    category_refusal,
    consent_refusal,
    plan_message,
)
from services.dispatch.ports import Sending, Settle, Store
from services.dispatch.providers.base import (
    ProviderConfigError,
    SendError,
    SendResult,
    TransientSendError,
)
from services.dispatch.settings import DispatchSettings
from services.dispatch.shop_profiles import ShopProfiles
from services.dispatch.templates.errors import RenderError
from services.dispatch.templates.sms import measure
from services.dispatch.templates.store import RenderedEmail, RenderedSms, TemplateStore
from services.dispatch.templates.variables import MessageLinks, RecipientView, render_variables
from shared.clock import Clock
from shared.events.messages import MessageStatus, MessageUpdate, SkipReason, message_id
from shared.events.shop import Channel
from shared.keyring import LinkKeys
from shared.tracking_links import Tracked
from shared.unsubscribe import Unsubscribe, sign

log = logging.getLogger(__name__)
HISTORY_WINDOW = timedelta(days=30)
Outcome = tuple[MessageRow, Settle, MessageUpdate]
"""A row's decided state: the log row, its outcome and its status record."""
CONTACT_RETRY_S = 2.0
TAKEN_MARGIN = timedelta(minutes=5)
"""Provider ids recorded this long before a row was created still count as taken: the provider
looks back a minute before `since` for clock skew, and taking too many costs nothing."""
RECENT_SMS_IDS = 100_000
"""Provider ids of this process's SMS (sent or matched) kept as taken, newest last."""
PROVIDER_SETTINGS = {Channel.EMAIL: "NUDGE_SMTP_*", Channel.SMS: "NUDGE_TWILIO_*"}
"""Where a channel's provider is configured, for the error a misconfiguration logs."""
MISCONFIGURED = "provider misconfigured"
DECIDE_SLICE_S = 0.002
"""Deciding a batch gives the event loop back after this much wall time: the answers of the
calls in flight are read, and their provider slots handed on, between slices rather than once
the whole batch is decided (a slot held by an answer nobody reads is concurrency lost)."""
SETTLE_GROUPS = 2
"""A batch's outcomes are recorded in this many groups (each one status publication and one
transaction) as its calls answer: more groups, fresher statuses behind a slow call; fewer,
less work per message."""


class Delivery(Protocol):
    """The providers as the sender sees them (implemented in delivery.py)."""

    async def email(
        self,
        *,
        to: str,
        rendered: RenderedEmail,
        message_id: str,
        brand_from: str,
        reply_to: str | None,
        unsubscribe: str | None,
    ) -> SendResult: ...

    async def sms(self, *, to: str, rendered: RenderedSms, message_id: str) -> SendResult: ...

    async def find_sms(
        self, *, to: str, body: str, since: datetime, taken: Collection[str]
    ) -> SendResult | None:
        """The provider's message to `to` with exactly `body`, created since `since`, whose id
        is not in `taken`; None when there is none (a doubt raises TransientSendError)."""
        ...


class StatusSink(Protocol):
    """Status records (statuses.py): built, then sent, so that one the broker does not
    acknowledge in time can be kept in the outbox as it is."""

    def status(self, shop_id: str, customer_id: str, update: MessageUpdate) -> Outbound: ...

    async def send(self, record: Outbound) -> Awaitable[object]:
        """Hand the record to the producer; the result resolves when it is acknowledged."""
        ...


class Outlet(StatusSink, Protocol):
    """What the sender publishes: status records and dead letters."""

    def dead_letter(self, row: MessageRow, reason: str) -> Outbound: ...


@dataclass
class Job:
    """A send decided and recorded: what to call the provider with."""

    row: MessageRow
    channel: Channel
    address: str
    message_id: str
    rendered: RenderedEmail | RenderedSms
    unsubscribe: str | None
    """The one-click unsubscribe URL (marketing only)."""
    template_id: str
    locale: str | None
    dead_letter: Outbound | None = None
    """Set when the sender gives up on it: the trigger for `messages.dlq.v1`."""


@dataclass
class Circuit:
    """Pauses a provider after consecutive transient failures, doubling the pause each time;
    a provider misconfigured is paused for the longest pause at once (`trip`)."""

    threshold: int
    max_pause_s: float
    monotonic: Callable[[], float]
    """Wall-time seconds (`Clock.monotonic`): pauses concern the real provider."""
    failures: int = 0
    open_until: float = 0.0
    pause_s: float = 1.0

    def is_open(self) -> bool:
        return self.monotonic() < self.open_until

    def remaining_s(self) -> float:
        """Seconds until the pause ends (0 when closed)."""
        return max(0.0, self.open_until - self.monotonic())

    def failed(self) -> None:
        if self.is_open():  # calls already in flight when it opened: the same outage, one pause
            return
        self.failures += 1
        if self.failures >= self.threshold:
            self.open_until = self.monotonic() + self.pause_s
            self.pause_s = min(self.pause_s * 2, self.max_pause_s)
            self.failures = 0

    def trip(self) -> bool:
        """Pause for `max_pause_s` from now; False when a pause that long was already on
        (calls in flight meeting the same misconfiguration)."""
        until = self.monotonic() + self.max_pause_s
        if self.open_until >= until - 1.0:
            return False
        self.open_until, self.failures = until, 0
        return True

    def succeeded(self) -> None:
        self.failures = 0
        self.pause_s = 1.0


class _Either(Collection[str]):
    """The ids in either collection, without copying them (the recent ones are many)."""

    def __init__(self, first: Collection[str], second: Collection[str]) -> None:
        self._first, self._second = first, second

    def __contains__(self, item: object) -> bool:
        return item in self._first or item in self._second

    def __iter__(self) -> Iterator[str]:
        yield from self._first
        yield from (item for item in self._second if item not in self._first)

    def __len__(self) -> int:
        return sum(1 for _ in self)


class _Budget:
    """Sends admitted and not yet made, at most `limit` (a batch larger than that is admitted
    alone): how far claims may run ahead of the providers. Given back call by call, so that a
    slow call holds back its own place only, never a whole batch's."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._used = 0
        self._wanted = 0
        """The most a waiting batch needs (0: none waits)."""
        self._freed = asyncio.Event()

    async def take(self, count: int) -> None:
        while not self._fits(count):
            self._wanted = max(self._wanted, count)
            self._freed.clear()
            await self._freed.wait()
        self._used += count

    def give(self, count: int = 1) -> None:
        self._used -= count
        if self._wanted and self._fits(self._wanted):  # wake the waiting only when they fit
            self._wanted = 0
            self._freed.set()

    def _fits(self, count: int) -> bool:
        return not self._used or self._used + count <= self._limit


class _Turns:
    """One holder at a time per key (an SMS recipient's number), without keeping a lock for
    every key ever seen."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def turn(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


@dataclass
class Sender:
    """Claims, decides and sends; built by bootstrap.build_dispatch."""

    store: Store
    templates: TemplateStore
    shops: ShopProfiles
    delivery: Delivery
    statuses: Outlet
    settings: DispatchSettings
    link_keys: LinkKeys
    """Sign the unsubscribe, survey and tracking links (derived link keys only: never a
    master key)."""
    clock: Clock
    circuits: dict[Channel, Circuit]
    throttles: dict[Channel, Callable[[], Awaitable[None]]] = field(default_factory=dict)
    _calls: asyncio.Semaphore = field(init=False)
    _admitted: _Budget = field(init=False)
    _sending: set[asyncio.Task[None]] = field(init=False, default_factory=set)
    _links: LinkSigner = field(init=False)
    _sms_turns: _Turns = field(init=False, default_factory=_Turns)
    _held: set[str] = field(init=False, default_factory=set)
    """Rows recorded `sending` by this process and not settled yet: their leases are kept."""
    _stopping: bool = field(init=False, default=False)
    _recent_sms_ids: OrderedDict[str, None] = field(init=False, default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self._calls = asyncio.Semaphore(self.settings.in_flight)
        self._admitted = _Budget(self.settings.rounds_in_flight * self.settings.claim_batch)
        self._links = LinkSigner(
            self.link_keys,
            self.settings.public_url,
            timedelta(days=self.settings.survey_ttl_days),
        )

    async def run_round(self) -> int:
        """Process one batch; return how many messages were claimed (0: nothing was due).

        Returns once the batch's sends are recorded and started, so that the next batch is
        claimed and decided while these are with the providers; up to `rounds_in_flight`
        batches' worth of sends wait for a call at once (`drain()` waits for them). Several
        calls may run at once (the
        service's `deciders`): as with several processes, a claim passes over customers
        another batch is deciding on, and a batch sees the sends recorded before it (`sending`
        rows count in the history), so frequency caps hold across concurrent batches."""
        claimed, jobs = await self._decide_round()
        if not jobs:
            return claimed
        await self._admitted.take(len(jobs))
        task = asyncio.create_task(self._send_all(jobs), name="dispatch-send")
        self._sending.add(task)
        task.add_done_callback(self._round_done)
        return claimed

    def _round_done(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # The rows stay `sending`: their lease runs out and they are resumed, same id.
            log.error("a batch's sends could not be recorded", exc_info=task.exception())

    async def drain(self) -> None:
        """Wait for the sends of every batch `run_round` started."""
        while self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)

    async def cancel_sends(self) -> None:
        """Stop the batches still sending (their rows are resumed after the lease); no call
        starts after this, even if a provider's library swallowed the cancellation."""
        self._stopping = True
        for task in list(self._sending):
            task.cancel()
        await self.drain()

    async def keep_leases(self) -> None:
        """Extend the leases of the rows this process is still sending: a round that waits on
        a slow provider longer than the lease is not taken over (and sent again) by another
        claim while its calls are out. Run every third of the lease (`serve()` does)."""
        held = list(self._held)
        if held:
            async with self.store.transaction() as tx:
                await tx.log.keep_leases(held, self.settings.lease_s)

    async def _decide_round(self) -> tuple[int, list[Job]]:
        """Claim, decide and record one batch; return the count and the sends to make."""
        now = self.clock.now()
        async with self.store.transaction() as tx:
            rows = await tx.log.claim(self.settings.claim_batch, self.settings.lease_s, now)
        if not rows:
            return 0, []
        # Held from the claim on: deciding can wait on the broker (statuses) longer than the
        # lease, and a row whose lease ran out meanwhile would be claimed and sent elsewhere.
        self._held.update(r.trigger_id for r in rows)
        try:
            return len(rows), await self._decide_claimed(rows, now)
        except Exception:
            self._held.difference_update(r.trigger_id for r in rows)
            with contextlib.suppress(Exception):  # else they wait for their lease, as before
                async with self.store.transaction() as tx:
                    await tx.log.release(rows)
            raise

    async def _decide_claimed(self, rows: list[MessageRow], now: datetime) -> list[Job]:
        keys = {(r.shop_id, r.customer_id) for r in rows}
        async with self.store.transaction() as tx:
            known = await tx.contacts.load(keys)
            deciding = [r.trigger_id for r in rows]
            histories = await tx.log.history(keys, now, HISTORY_WINDOW, deciding)
        jobs: list[Job] = []
        outcomes: list[Outcome] = []
        slice_started = self.clock.monotonic()
        for row in sorted(rows, key=lambda r: r.created_at):
            if self.clock.monotonic() - slice_started >= DECIDE_SLICE_S:
                await asyncio.sleep(0)  # let the calls in flight be answered meanwhile
                slice_started = self.clock.monotonic()
            key = (row.shop_id, row.customer_id)
            try:
                decided = self._decide(row, known.get(key), histories[key], now)
            except Exception as exc:  # a bug stops this message, never the whole round
                log.exception("cannot decide on %s", row.trigger_id)
                reason = f"internal error: {exc!r}"[:1000]
                update = _update(row, MessageStatus.FAILED, row.channel, reason=reason)
                decided = (row, _settle(row, "failed", reason), update)
            if isinstance(decided, Job):
                jobs.append(decided)
            else:
                outcomes.append(decided)
        unacknowledged = await self._announce(
            self.statuses.status(row.shop_id, row.customer_id, update)
            for row, _, update in outcomes
            # still waiting for the same thing: said once, when it started
            if not (
                update.status is MessageStatus.DEFERRED
                and (row.state, row.reason) == ("deferred", update.reason)
            )
        )
        async with self.store.transaction() as tx:
            await tx.log.mark_sending([_sending(job) for job in jobs])
            await tx.log.settle([settle for _, settle, _ in outcomes], now)
            await outbox.keep(tx.outbox, unacknowledged)
        self._held.difference_update(row.trigger_id for row, _, _ in outcomes)
        return jobs

    def _decide(
        self, row: MessageRow, contact: Contact | None, history: CustomerHistory, now: datetime
    ) -> Job | Outcome:
        fired = row.trigger
        if row.state == "sending" and row.channel is not None and row.address is not None:
            return self._resume(row, contact, now)
        if contact is None:
            if row.age_s < self.settings.contact_wait_s:  # the store's time, like created_at
                return self._wait(row, self.clock.after(CONTACT_RETRY_S), "contact_unknown")
            return self._skip(row, Skip(SkipReason.NO_ADDRESS, detail="contact unknown"))
        profile = self.shops.for_shop(row.shop_id)

        def has_template(channel: Channel) -> bool:
            return self.templates.has(row.shop_id, fired.template_id, channel.value)

        plan = plan_message(
            fired, contact, history.view(row.journey_id), profile.policy, now, has_template
        )
        if isinstance(plan, Skip):
            return self._skip(row, plan)
        if isinstance(plan, Defer):
            return self._wait(row, plan.until, plan.reason, channel=plan.channel)
        try:
            job = self._stored_sms(row, plan) or self._render(row, contact, plan, now)
        except RenderError as exc:
            return self._skip(row, Skip(SkipReason.RENDER_ERROR, plan.channel, exc.reason))
        history.sent(row.journey_id, plan.channel, now, not fired.transactional)
        return job

    def _render(self, row: MessageRow, contact: Contact, plan: Send, now: datetime) -> Job:
        fired = row.trigger
        profile = self.shops.for_shop(row.shop_id)
        the_id = message_id(row.trigger_id, plan.channel)
        tracked = Tracked(row.shop_id, row.customer_id, the_id)
        unsubscribe = None
        if not fired.transactional:
            unsubscribe = self._unsubscribe_url(row, plan.channel)
        links = MessageLinks(
            unsubscribe_url=unsubscribe, survey_url=self._links.survey_url(fired, tracked, now)
        )
        track = self._links.tracker(tracked) if profile.tracking.clicks else None
        recipient = RecipientView(
            first_name=contact.first_name,
            last_name=contact.last_name,
            email=contact.email.address,
            phone=contact.sms.address,
            locale=contact.locale,
            time_zone=contact.time_zone,
        )
        offer = incentive_for(
            fired.campaign_id,
            fired.context.incentive_code,
            contact.monetary_score,
            profile.incentives,
        )
        rendered: RenderedEmail | RenderedSms
        if plan.channel is Channel.SMS and track is not None:
            rendered = self._tracked_sms(row, contact, recipient, links, track, offer)
        else:
            tracked_links = dataclasses.replace(links, track=track)
            variables = render_variables(
                fired, recipient, profile.brand, tracked_links, incentive=offer
            )
            if plan.channel is Channel.EMAIL:
                rendered = self.templates.render_email(
                    row.shop_id, fired.template_id, contact.locale, variables
                )
                pixel = self._links.pixel_url(tracked) if profile.tracking.opens else None
                rendered = finish_email(rendered, track, pixel)
            else:
                rendered = self.templates.render_sms(
                    row.shop_id, fired.template_id, contact.locale, variables
                )
        return Job(
            row=row,
            channel=plan.channel,
            address=plan.address,
            message_id=the_id,
            rendered=rendered,
            unsubscribe=unsubscribe,
            template_id=fired.template_id,
            locale=rendered.locale_used,
        )

    def _tracked_sms(
        self,
        row: MessageRow,
        contact: Contact,
        recipient: RecipientView,
        links: MessageLinks,
        track: Callable[[str], str],
        offer: Incentive | None,
    ) -> RenderedSms:
        """The SMS with its links tracked, or untracked when tracked links (about 170
        characters each: the signed token carries the target) would take it past its
        template's `max_segments`: a click is worth less than an SMS part, and much less than
        a message not sent. Counted (nudge_dispatch_sms_untracked_total)."""
        fired = row.trigger
        brand = self.shops.for_shop(row.shop_id).brand
        tracked_links = dataclasses.replace(links, track=track)
        try:
            return self.templates.render_sms(
                row.shop_id,
                fired.template_id,
                contact.locale,
                render_variables(fired, recipient, brand, tracked_links, incentive=offer),
                finish=lambda body: tracked_text.rewrite(body, track),
            )
        except RenderError:
            untracked = self.templates.render_sms(
                row.shop_id,
                fired.template_id,
                contact.locale,
                render_variables(fired, recipient, brand, links, incentive=offer),
            )
            metrics.SMS_UNTRACKED.inc()
            return untracked

    def _unsubscribe_url(self, row: MessageRow, channel: Channel) -> str:
        """The one-click link (RFC 8058) the feedback service answers at `/u/<token>`.

        It is the only `List-Unsubscribe` target: no `mailto:` beside it. RFC 8058 and the
        mailbox providers' bulk-sender rules need only the https URL with
        `List-Unsubscribe-Post`, and a mailto address would need a mailbox that reads
        unsubscribe mail, which Nudge does not run: a customer's unsubscribe email would be
        lost. It could not carry this token either: the token holds the shop and customer ids
        (up to 255 characters each), and an address's local part is at most 64 octets (RFC
        5321). Clients without one-click support open the same URL: the preference page.
        """
        token = sign(self.link_keys, Unsubscribe(row.shop_id, row.customer_id, channel))
        return f"{self.settings.public_url}/u/{token}"

    def _resume(self, row: MessageRow, contact: Contact | None, now: datetime) -> Job | Outcome:
        """A sender died after recording this send: send again under the same message id
        (the provider recognises the repeat), unless the address was suppressed or consent
        withdrawn meanwhile."""
        assert row.channel is not None and row.address is not None
        if contact is None:
            return self._skip(row, Skip(SkipReason.NO_ADDRESS, row.channel, "contact removed"))
        dropped = category_refusal(row.trigger, contact)
        if dropped is not None:
            return self._skip(row, Skip(dropped.reason, row.channel, dropped.detail))
        state = contact.channel(row.channel)
        if state.undeliverable is not None:  # a hard bounce or a refusal since the first try
            detail = f"{state.undeliverable} after an interrupted send"
            return self._skip(row, Skip(SkipReason.SUPPRESSED, row.channel, detail))
        if not row.trigger.transactional and state.marketing_suppressed is not None:
            detail = f"{state.marketing_suppressed} after an interrupted send"
            return self._skip(row, Skip(SkipReason.SUPPRESSED, row.channel, detail))
        if not row.trigger.transactional and state.consent is not True:
            reason, stated = consent_refusal(state)
            detail = f"{stated} after an interrupted send"
            return self._skip(row, Skip(reason, row.channel, detail))
        plan = Send(row.channel, row.address)
        try:
            return self._stored_sms(row, plan) or self._render(row, contact, plan, now)
        except RenderError as exc:
            return self._skip(row, Skip(SkipReason.RENDER_ERROR, row.channel, exc.reason))

    def _stored_sms(self, row: MessageRow, plan: Send) -> Job | None:
        """An SMS attempted before under the same message id goes out as it was recorded, not
        rendered again: what the provider is asked about (and what a customer may already
        have) is that body, whatever changed since (a template, a tracked link's token)."""
        if plan.channel is not Channel.SMS or row.sent_body is None:
            return None
        the_id = message_id(row.trigger_id, plan.channel)
        if row.message_id != the_id:
            return None
        size = measure(row.sent_body)
        return Job(
            row=row,
            channel=plan.channel,
            address=plan.address,
            message_id=the_id,
            rendered=RenderedSms(row.sent_body, size.encoding, size.segments, locale_used=""),
            unsubscribe=None,
            template_id=row.trigger.template_id,
            locale=None,
        )

    def _skip(self, row: MessageRow, skip: Skip) -> Outcome:
        reason = skip.reason.value if skip.detail is None else f"{skip.reason}: {skip.detail}"
        settle = _settle(row, "skipped", reason)
        metrics.MESSAGES.labels(_label(skip.channel), "skipped", skip.reason.value).inc()
        return row, settle, _update(row, MessageStatus.SKIPPED, skip.channel, reason=reason)

    def _wait(
        self,
        row: MessageRow,
        until: datetime,
        reason: str,
        *,
        channel: Channel | None = None,
    ) -> Outcome:
        settle = _settle(row, "deferred", reason, next_attempt_at=until, refund=True)
        metrics.MESSAGES.labels(_label(channel), "deferred", reason).inc()
        update = _update(row, MessageStatus.DEFERRED, channel, reason=reason, until=until)
        return row, settle, update

    async def _send_all(self, jobs: list[Job]) -> None:
        """Send a batch and record its outcomes; its rows' leases are kept meanwhile."""
        try:
            await self._send_and_record(jobs)
        finally:  # recorded, or left `sending` to be resumed once the lease runs out
            self._held.difference_update(job.row.trigger_id for job in jobs)

    async def _send_and_record(self, jobs: list[Job]) -> None:
        """Make the batch's calls (`in_flight` at once over all batches) and record their
        outcomes in groups as they come in: a slow call holds back its own row, not the
        batch's, and its place in the budget goes to the next batch as soon as it answered."""
        if not jobs:
            return
        # A few workers drawing from the batch rather than a task per job: the in-flight
        # bound (shared by the batches) would hold most of those tasks waiting anyway.
        queue = iter(jobs)
        unsent = len(jobs)
        finished: list[tuple[Job, Outcome, list[Outbound]]] = []
        group = max(1, len(jobs) // SETTLE_GROUPS)
        recording = asyncio.Lock()

        async def record(final: bool = False) -> None:
            async with recording:  # the first to get here takes what is there
                if not finished or (len(finished) < group and not final):
                    return
                taken = finished[:]
                finished.clear()
                try:
                    await self._record_sent(taken)
                except Exception:
                    # The rows stay `sending`: their lease runs out and they are resumed, same id.
                    log.exception("%d sends could not be recorded", len(taken))

        async def worker() -> None:
            nonlocal unsent
            for job in queue:
                if self._stopping:
                    return
                async with self._calls:
                    outcome = await self._send(job)
                unsent -= 1
                self._admitted.give()
                row, _, update = outcome
                records = [self.statuses.status(row.shop_id, row.customer_id, update)]
                if job.dead_letter is not None:
                    records.append(job.dead_letter)
                finished.append((job, outcome, records))
                if len(finished) >= group:
                    await record()

        try:
            await asyncio.gather(
                *(worker() for _ in range(min(self.settings.in_flight, len(jobs))))
            )
            await record(final=True)
        finally:
            self._admitted.give(unsent)  # cancelled: what was never sent frees its place

    async def _record_sent(self, sent: list[tuple[Job, Outcome, list[Outbound]]]) -> None:
        """Publish the status records of calls made, then record their outcomes (and the
        addresses a provider refused) in one transaction."""
        now = self.clock.now()
        unacknowledged = await self._announce(r for _, _, records in sent for r in records)
        async with self.store.transaction() as tx:
            await tx.log.settle([settle for _, (_, settle, _), _ in sent], now)
            await outbox.keep(tx.outbox, unacknowledged)
            for job, (_, _, update), _ in sent:
                if update.status is MessageStatus.QUEUED:  # refused for the address: remember
                    key = (job.row.shop_id, job.row.customer_id)
                    reason = update.reason or "rejected"
                    await tx.contacts.refused(key, job.channel, reason, now)

    async def _send(self, job: Job) -> Outcome:
        row, circuit = job.row, self.circuits[job.channel]
        if circuit.is_open():  # the provider is resting: keep the message, spend no attempt
            until = self.clock.after(max(circuit.remaining_s(), circuit.pause_s))
            return self._retry(job, until, "provider paused after repeated failures", True)
        throttle = self.throttles.get(job.channel)
        if throttle is not None:
            await throttle()
        started = self.clock.monotonic()
        found = False
        try:
            result, found = await self._deliver(job)
        except ProviderConfigError as exc:
            metrics.PROVIDER_ERRORS.labels(job.channel.value, "misconfigured").inc()
            if circuit.trip():
                log.error(
                    "%s provider misconfigured (check %s): %s; %s paused for %.0f s",
                    job.channel.value,
                    getattr(exc, "setting", None) or PROVIDER_SETTINGS[job.channel],
                    exc.reason,
                    job.channel.value,
                    circuit.remaining_s(),
                )
            until = self.clock.after(max(circuit.remaining_s(), 1.0))
            reason = f"{MISCONFIGURED}: {exc.reason}"
            return self._retry(job, until, reason, True, label=MISCONFIGURED)
        except TransientSendError as exc:
            circuit.failed()
            metrics.PROVIDER_ERRORS.labels(job.channel.value, "transient").inc()
            if row.attempts >= self.settings.max_attempts:
                reason = f"gave up after {row.attempts} attempts: {exc.reason}"
                job.dead_letter = self.statuses.dead_letter(row, reason)
                return self._fail(job, reason)
            delay = exc.retry_after_s or self._backoff(row.attempts)
            metrics.BACKOFF_SECONDS.labels(job.channel.value).observe(delay)
            until = self.clock.after(delay)
            return self._retry(job, until, exc.reason, False)
        except SendError as exc:
            metrics.PROVIDER_ERRORS.labels(job.channel.value, "permanent").inc()
            return self._rejected(job, exc)
        except Exception as exc:  # a bug: record it on this message, never stall the round
            log.exception("sending %s failed unexpectedly", row.trigger_id)
            return self._fail(job, f"internal error: {exc!r}"[:1000])
        finally:
            metrics.PROVIDER_SECONDS.labels(job.channel.value).observe(
                self.clock.monotonic() - started
            )
        circuit.succeeded()
        metrics.MESSAGES.labels(job.channel.value, "sent", "reconciled" if found else "").inc()
        settle = _settle(row, "sent", None, provider_id=result.provider_id)
        update = _update(
            row,
            MessageStatus.SENT,
            job.channel,
            job=job,
            provider_id=result.provider_id,
        )
        return row, settle, update

    async def _deliver(self, job: Job) -> tuple[SendResult, bool]:
        """Send the job; for an SMS, first look for an earlier attempt at the provider. Returns
        the result and whether it was such an earlier attempt (reconciled, not sent now).

        SMS to one number take turns in this process, and the provider ids this process sent
        or matched count as taken: of two identical texts to one customer, each matches its
        own provider message, or is sent."""
        if job.channel is not Channel.SMS or not isinstance(job.rendered, RenderedSms):
            return await self._call(job), False
        async with self._sms_turns.turn(job.address):
            found = await self._find_earlier_attempt(job, job.rendered)
            result = found or await self._call(job)
            self._recent_sms_ids[result.provider_id] = None
            while len(self._recent_sms_ids) > RECENT_SMS_IDS:
                self._recent_sms_ids.popitem(last=False)
            return result, found is not None

    async def _find_earlier_attempt(self, job: Job, rendered: RenderedSms) -> SendResult | None:
        """An SMS whose earlier attempt may have reached the provider (the sender died during
        the call, or the call timed out) is looked up there before it is sent again: Twilio
        has no idempotency key, so a second POST would be a second message to the customer.
        It is looked up by the body recorded with that attempt (the job carries it), and a
        provider message already matched to another row of the log, or to another send of
        this process, is never taken for it. Email needs no lookup: the repeat carries the
        same Message-ID."""
        row = job.row
        if row.message_id != job.message_id or row.state not in ("sending", "retrying"):
            return None  # no earlier attempt of this message on this channel
        async with self.store.transaction() as tx:
            logged = await tx.log.sms_provider_ids(job.address, row.created_at - TAKEN_MARGIN)
        taken = _Either(logged, self._recent_sms_ids.keys())
        return await self.delivery.find_sms(
            to=job.address, body=rendered.body, since=row.created_at, taken=taken
        )

    async def _call(self, job: Job) -> SendResult:
        if isinstance(job.rendered, RenderedEmail):
            brand = self.shops.for_shop(job.row.shop_id).brand
            sender = brand.from_email or f"hello@{job.row.shop_id}.example"
            return await self.delivery.email(
                to=job.address,
                rendered=job.rendered,
                message_id=job.message_id,
                brand_from=formataddr((brand.from_name or brand.display_name, sender)),
                reply_to=brand.support_email,
                unsubscribe=job.unsubscribe,
            )
        return await self.delivery.sms(
            to=job.address, rendered=job.rendered, message_id=job.message_id
        )

    def _backoff(self, attempts: int) -> float:
        """Exponential with full jitter: retries of many messages spread out, no storm."""
        ceiling = min(self.settings.backoff_cap_s, self.settings.backoff_base_s * 2**attempts)
        return random.uniform(ceiling / 2, ceiling)

    def _retry(
        self, job: Job, until: datetime, reason: str, refund: bool, *, label: str = ""
    ) -> Outcome:
        metrics.MESSAGES.labels(job.channel.value, "retrying", label).inc()
        settle = _settle(job.row, "retrying", reason, next_attempt_at=until, refund=refund)
        update = _update(
            job.row, MessageStatus.DEFERRED, job.channel, job=job, reason=reason, until=until
        )
        return job.row, settle, update

    def _fail(self, job: Job, reason: str) -> Outcome:
        metrics.MESSAGES.labels(job.channel.value, "failed", "").inc()
        update = _update(job.row, MessageStatus.FAILED, job.channel, job=job, reason=reason)
        return job.row, _settle(job.row, "failed", reason), update

    def _rejected(self, job: Job, exc: SendError) -> Outcome:
        """A permanent refusal. About the recipient (an opt-out the provider knows of, an
        address that cannot receive): recorded on the contact, and the message is decided again
        at once, so it falls back to the other channel when there is one. About the message
        itself: this message fails, the address stays usable."""
        if not (getattr(exc, "opted_out", False) or _about_the_address(job.channel, exc)):
            return self._fail(job, f"{job.channel} refused the message: {exc.reason}")
        kind = OPTED_OUT if getattr(exc, "opted_out", False) else "rejected"
        reason = f"{job.channel} {kind}: {exc.reason}"
        metrics.MESSAGES.labels(job.channel.value, "rejected", "").inc()
        settle = _settle(job.row, "queued", reason, next_attempt_at=self.clock.now())
        update = _update(job.row, MessageStatus.QUEUED, job.channel, job=job, reason=reason)
        return job.row, settle, update

    async def _announce(self, records: Iterable[Outbound]) -> list[Outbound]:
        """Publish records and wait (boundedly) for the broker, *before* the outcome is
        committed: a crash in between says it again when the message is retaken (terminal
        statuses keep their event id, so readers see them once) instead of never. A broker that
        does not answer in time must not stop sending: what it did not acknowledge is returned,
        for the outcome's transaction to keep in the outbox."""
        batch = list(records)
        timeout = self.settings.status_ack_timeout_s
        acknowledged = await outbox.deliver(self.statuses.send, batch, timeout)
        return [r for r, ok in zip(batch, acknowledged, strict=True) if not ok]


_SMS_ADDRESS_ERRORS = frozenset({21211, 21214, 21217, 21408, 21612, 21614})
"""Twilio codes about the recipient's number (invalid, unreachable, not mobile, region not
enabled), as opposed to the message or our own account."""
_SMTP_ADDRESS_ERRORS = frozenset({550, 551, 553})
"""SMTP replies about the mailbox (unknown, moved, name not allowed)."""


def _about_the_address(channel: Channel, exc: SendError) -> bool:
    codes = _SMS_ADDRESS_ERRORS if channel is Channel.SMS else _SMTP_ADDRESS_ERRORS
    return exc.code in codes


def _label(channel: Channel | None) -> str:
    return channel.value if channel is not None else "none"


def _sending(job: Job) -> Sending:
    body = job.rendered.body if isinstance(job.rendered, RenderedSms) else None
    return Sending(job.row.trigger_id, job.channel, job.message_id, job.address, body)


def _settle(
    row: MessageRow,
    state: str,
    reason: str | None,
    *,
    next_attempt_at: datetime | None = None,
    provider_id: str | None = None,
    refund: bool = False,
) -> Settle:
    return Settle(row.trigger_id, state, reason, next_attempt_at, provider_id, refund)


def _update(
    row: MessageRow,
    status: MessageStatus,
    channel: Channel | None,
    *,
    job: Job | None = None,
    reason: str | None = None,
    until: datetime | None = None,
    provider_id: str | None = None,
) -> MessageUpdate:
    fired = row.trigger
    return MessageUpdate(
        message_id=job.message_id if job else message_id(row.trigger_id, _label(channel)),
        trigger_id=row.trigger_id,
        campaign_id=fired.campaign_id,
        step_id=fired.step_id,
        variant=fired.variant,
        channel=channel,
        transactional=fired.transactional,
        status=status,
        reason=reason,
        until=until,
        provider_id=provider_id,
        attempt=row.attempts,
        template_id=job.template_id if job else fired.template_id,
        locale=job.locale if job else None,
    )
