"""`nudge simulate`: plan a population, register its shops, send its timeline, summarise.

The command in services/cli.py reads the options and calls `run`; tests call `world` and
`simulate` directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import httpx
import orjson

from services.simulator.answers import Answerer, AnswerOptions
from services.simulator.behaviour import Action, play
from services.simulator.formats import Format, ShopKeys
from services.simulator.inbox import Inbox, replies_file
from services.simulator.population import MAX_CUSTOMERS, MAX_SEED, Mix, customer
from services.simulator.received import Recipients
from services.simulator.sender import Sender, SendOptions, Tally
from services.simulator.shops import (
    ShopsError,
    parse_shops,
    read_credentials,
    register,
    write_credentials,
)
from shared.clock import Clock, ScaledClock, make_clock, seconds_at

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from shared.tenancy import ShopRegistry

PROGRESS_EVERY_S = 10.0
PREPARE_S_PER_CUSTOMER = 150e-6


@dataclass(frozen=True)
class Plan:
    """What to simulate: who (seed, customers, shops, mix) and when (start, days)."""

    seed: int
    customers: int
    days: float
    start: datetime
    shops: tuple[tuple[str, Format], ...]
    mix: Mix = field(default_factory=Mix)

    def __post_init__(self) -> None:
        if not 0 <= self.seed <= MAX_SEED:
            raise ValueError(f"--seed must be between 0 and {MAX_SEED}")
        if not 1 <= self.customers <= MAX_CUSTOMERS + 1:
            raise ValueError(f"--customers must be between 1 and {MAX_CUSTOMERS + 1}")
        if not 0 < self.days <= 3660:
            raise ValueError("--days must be more than 0 and at most 3660")
        if self.start.tzinfo is None:
            raise ValueError("--start must be timezone-aware")

    @property
    def shop_ids(self) -> tuple[str, ...]:
        return tuple(shop_id for shop_id, _ in self.shops)


def world(plan: Plan) -> Iterator[Action]:
    """Every action of the plan, in time order (the timeline the oracle reads too)."""
    shops = plan.shop_ids
    people = (customer(plan.seed, shops, index, plan.mix) for index in range(plan.customers))
    return play(people, plan.start, plan.days)


async def simulate(
    plan: Plan,
    keys: Mapping[str, ShopKeys],
    ingest_url: str,
    clock: Clock,
    options: SendOptions,
    *,
    progress: Callable[[Tally], None] | None = None,
) -> Tally:
    """Send the plan's timeline to ingest at `ingest_url` on `clock`; the tally of answers."""
    limits = httpx.Limits(
        max_connections=options.concurrency, max_keepalive_connections=options.concurrency
    )
    async with httpx.AsyncClient(
        base_url=ingest_url, limits=limits, timeout=httpx.Timeout(30.0)
    ) as client:
        sender = Sender(client, keys, clock, options)
        reporter = asyncio.create_task(_report(sender.tally, progress)) if progress else None
        try:
            return await sender.run(world(plan))
        finally:
            if reporter is not None:
                reporter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reporter


async def _report(tally: Tally, progress: Callable[[Tally], None]) -> None:
    while True:
        await asyncio.sleep(PROGRESS_EVERY_S)
        progress(tally)


def preparation_s(customers: int) -> float:
    """Wall seconds to leave before a default start: the population and each customer's
    first session are drawn before the first action can go out, and an action due
    meanwhile would be sent late."""
    return 1.0 + customers * PREPARE_S_PER_CUSTOMER


def parse_start(text: str | None, clock: Clock, lead_s: float = 0.0) -> datetime:
    """`--start` (ISO 8601, UTC without an offset), else the clock's time `lead_s` wall
    seconds from now, to the second."""
    if text is None:
        return clock.after(lead_s).replace(microsecond=0)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"--start: {text!r} is not an ISO 8601 time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def summary(plan: Plan, clock: Clock, tally: Tally) -> dict[str, Any]:
    scale = clock.scale if isinstance(clock, ScaledClock) else 1.0
    origin = clock.origin if isinstance(clock, ScaledClock) else None
    return {
        "seed": plan.seed,
        "customers": plan.customers,
        "days": plan.days,
        "start": _iso(plan.start),
        "shops": {shop_id: fmt.value for shop_id, fmt in plan.shops},
        "time_scale": scale,
        "clock_origin": origin,
        **tally.as_json(),
    }


def summary_lines(report: dict[str, Any]) -> list[str]:
    items = report["items"]
    lines = [
        f"simulated {report['customers']} customers of {len(report['shops'])} shops over "
        f"{report['days']:g} days from {report['start']} (seed {report['seed']}, "
        f"time scale {report['time_scale']:g})",
        f"actions {report['actions']}, requests {report['requests']} "
        f"({report['attempts']} attempts) in {report['wall_s']:.1f} s: "
        f"{report['requests_per_s']} requests/s, {report['events_per_s']} events/s",
        f"items: accepted {items.get('accepted', 0)} ({report['events_accepted']} events), "
        f"duplicate {items.get('duplicate', 0)} (expected {report['duplicates_expected']}), "
        f"rejected {items.get('rejected', 0)}, ignored {items.get('ignored', 0)}",
        f"resent {report['resent']}, late {report['late']} (worst {report['max_late_s']} s)",
    ]
    for title, key in (("retries", "retries"), ("failed", "failed"), ("rejected", "rejected")):
        if report[key]:
            top = list(report[key].items())[:10]
            lines.append(f"{title}: " + "; ".join(f"{k} x{v}" for k, v in top))
    if report["accepted_unexpectedly"]:
        lines.append(f"accepted where a duplicate was expected: {report['accepted_unexpectedly']}")
    if "replies" in report:
        read = report["messages_read"]
        lines.append(
            f"inboxes: {read.get('email', 0)} emails and {read.get('sms', 0)} texts read, "
            f"{report['replies_pending']} replies still due at the end"
        )
        for kind, outcomes in report["replies"].items():
            counts = ", ".join(f"{outcome} {n}" for outcome, n in outcomes.items())
            lines.append(f"replies {kind}: {counts}")
    return lines


@dataclass(frozen=True)
class Options:
    """The command's options, as read by services/cli.py."""

    seed: int
    customers: int
    days: float
    time_scale: float
    clock_origin: float | None
    start: str | None
    rate: float
    concurrency: int
    ingest_url: str
    shops: str
    credentials: Path | None
    duplicate_rate: float
    dry_run: bool
    as_json: bool
    settle_s: float
    replies: ReplyOptions | None = None
    """The customers' inboxes, when the sinks' logs are given."""


@dataclass(frozen=True)
class ReplyOptions:
    """Where the customers read their messages and answer them (inbox.py)."""

    feedback_url: str
    """The feedback service's public URL: links point there, and Twilio signs it."""
    smtp_log: Path | None = None
    sms_log: Path | None = None
    replies_log: Path | None = None
    twilio_auth_token: str | None = None
    linger_s: float = 30.0
    """Wall seconds to keep answering after the last action was sent."""

    def __post_init__(self) -> None:
        if self.smtp_log is None and self.sms_log is None:
            raise ValueError("--smtp-log or --sms-log: the inboxes to read")
        if self.sms_log is not None and not self.twilio_auth_token:
            raise ValueError(
                "--sms-log: texts back need the Twilio auth token feedback checks "
                "(NUDGE_FEEDBACK_TWILIO_AUTH_TOKEN or --twilio-auth-token)"
            )
        if not self.feedback_url.startswith(("http://", "https://")):
            raise ValueError("--feedback-url: an http(s) URL")
        if self.linger_s < 0:
            raise ValueError("--linger: 0 or more seconds")


RegistryFactory = Callable[[], "tuple[AsyncEngine, ShopRegistry]"]


def run(options: Options, open_registry: RegistryFactory, out: TextIO = sys.stdout) -> int:
    """The command; its exit status (1 when anything was refused or given up on, 2 for a
    bad option)."""
    try:
        clock = make_clock(options.time_scale, options.clock_origin)
        plan = Plan(
            seed=options.seed,
            customers=options.customers,
            days=options.days,
            start=parse_start(options.start, clock, preparation_s(options.customers)),
            shops=parse_shops(options.shops),
        )
        send = SendOptions(
            rate=options.rate,
            concurrency=options.concurrency,
            duplicate_rate=options.duplicate_rate,
            seed=options.seed,
        )
    except ValueError as exc:
        print(f"nudge simulate: {exc}", file=sys.stderr)
        return 2
    if options.dry_run:
        for action in world(plan):
            out.write(orjson.dumps(action.as_json()).decode())
            out.write("\n")
        return 0
    try:
        return asyncio.run(_send(plan, clock, send, options, open_registry, out))
    except ShopsError as exc:
        print(f"nudge simulate: {exc}", file=sys.stderr)
        return 2


async def _send(
    plan: Plan,
    clock: Clock,
    send: SendOptions,
    options: Options,
    open_registry: RegistryFactory,
    out: TextIO,
) -> int:
    known: dict[str, tuple[str, str]] = {}
    if options.credentials is not None and options.credentials.exists():
        known = read_credentials(options.credentials)
    keys = {
        shop_id: ShopKeys(shop_id, fmt, *known[shop_id])
        for shop_id, fmt in plan.shops
        if shop_id in known
    }
    if len(keys) < len(plan.shops):
        engine, registry = open_registry()
        try:
            registered = await register(registry, plan.shops, known)
        finally:
            await engine.dispose()
        keys = registered.keys
        for shop_id in registered.added:
            print(f"registered shop {shop_id}", file=sys.stderr)
        if options.credentials is not None:
            write_credentials(options.credentials, keys.values())
        if registered.rotated:
            print(
                f"rotated the credentials of {', '.join(registered.rotated)}; waiting "
                f"{options.settle_s:g} s for ingest to load them",
                file=sys.stderr,
            )
            await asyncio.sleep(options.settle_s)
        plan = _from_now(plan, clock, options.start)

    def progress(tally: Tally) -> None:
        print(
            f"... {tally.actions} actions, {tally.requests} requests, "
            f"{tally.items['accepted']} accepted, {tally.late} late",
            file=sys.stderr,
        )

    async with inboxes(plan, clock, options.replies) as inbox:
        tally = await simulate(
            plan,
            keys,
            options.ingest_url,
            clock,
            send,
            progress=None if options.as_json else progress,
        )
    report = summary(plan, clock, tally)
    if inbox is not None:
        report.update(inbox.tally.as_json())
    if options.as_json:
        out.write(orjson.dumps(report).decode() + "\n")
    else:
        for line in summary_lines(report):
            out.write(line + "\n")
    return 1 if tally.failed or tally.items["rejected"] else 0


@contextlib.asynccontextmanager
async def inboxes(
    plan: Plan, clock: Clock, options: ReplyOptions | None
) -> AsyncIterator[Inbox | None]:
    """The customers' inboxes, read while the body runs and for `linger_s` after it."""
    if options is None:
        yield None
        return
    scale = clock.scale if isinstance(clock, ScaledClock) else 1.0
    recipients = Recipients(plan.seed, plan.shop_ids, plan.customers, plan.mix)
    answers = AnswerOptions(options.feedback_url, options.twilio_auth_token)
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    with replies_file(options.replies_log) as replies_log:
        async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(30.0)) as client:
            inbox = Inbox(
                recipients,
                Answerer(client, answers),
                scale=scale,
                simulated=lambda wall: seconds_at(clock, wall),
                smtp_log=options.smtp_log,
                sms_log=options.sms_log,
                replies_log=replies_log,
                since=time.time(),
            )
            reading = asyncio.create_task(inbox.run())
            try:
                yield inbox
                inbox.stop_at = time.time() + options.linger_s
                await reading
            finally:
                if not reading.done():
                    reading.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await reading


def _from_now(plan: Plan, clock: Clock, start: str | None) -> Plan:
    """A default start moves to after the registration's wait, so nothing starts late."""
    if start is not None:
        return plan
    moment = parse_start(None, clock, preparation_s(plan.customers))
    return Plan(plan.seed, plan.customers, plan.days, moment, plan.shops, plan.mix)
