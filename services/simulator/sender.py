"""Sending the merged timeline to ingest over HTTP, on the simulated clock.

An action due at simulated time `t` is sent when the shared clock (shared/clock.py: the same
scale and origin as the services) reaches `t`. Actions due within one batch window go out
together (native and Segment batches, one request per Shopify webhook). Requests are paced
by a token bucket (`rate` requests a second), at most `concurrency` in flight, and each
customer's requests go strictly one after the other: the next waits for the answer to the
previous, as a shop's own queue would.

429 and 503 are retried after their Retry-After, other 5xx and transport errors after a
growing backoff, always with the same bytes, so that a retry of a request ingest did take is
a duplicate it recognises. Every answer is counted (docs/SIMULATOR.md, "Summary").
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Final

import httpx
import orjson

from services.simulator.behaviour import Action
from services.simulator.formats import MAX_BATCH_ITEMS, Batcher, HttpRequest, ShopKeys
from shared.clock import Clock, ScaledClock
from shared.token_bucket import TokenBucket

RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})
BACKOFF_FIRST_S: Final = 0.2
BACKOFF_MAX_S: Final = 10.0
RETRY_AFTER_MAX_S: Final = 60.0
"""A Retry-After beyond this is taken as this: the simulator keeps probing."""


@dataclass(frozen=True)
class SendOptions:
    rate: float = 500.0
    """Requests a second, at most (retries and resends included)."""
    concurrency: int = 64
    """Requests in flight at once (also the connection pool's size)."""
    batch_window_s: float = 0.02
    """Wall seconds: actions due within this of the first one go out together."""
    max_batch_items: int = MAX_BATCH_ITEMS
    duplicate_rate: float = 0.0
    """The share of requests sent a second time, byte for byte, once answered."""
    late_after_s: float = 1.0
    """Wall seconds behind its due time past which a request counts as sent late."""
    give_up_after_s: float = 600.0
    """Wall seconds of retrying one request before it is counted as failed."""
    record_ids: bool = False
    """Keep the event ids of accepted items (tests; costs memory on large runs)."""
    seed: int = 0
    """Chooses the duplicated requests and the backoff jitter."""

    def __post_init__(self) -> None:
        if self.rate <= 0:
            raise ValueError("rate must be positive")
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.batch_window_s < 0:
            raise ValueError("batch_window_s must not be negative")
        if not 0.0 <= self.duplicate_rate <= 1.0:
            raise ValueError("duplicate_rate must be between 0 and 1")
        if self.late_after_s < 0 or self.give_up_after_s <= 0:
            raise ValueError("late_after_s and give_up_after_s must be positive")


@dataclass
class Tally:
    """What ingest answered, item by item (a webhook, a Segment call, a native event)."""

    actions: int = 0
    """Actions of the timeline handed to the sender."""
    requests: int = 0
    """Distinct requests, retries and resends not counted."""
    attempts: int = 0
    items: Counter[str] = field(default_factory=Counter)
    """Per status ingest gave: accepted, duplicate, rejected, ignored."""
    events_accepted: int = 0
    """Event ids in accepted items."""
    duplicates_expected: int = 0
    """Duplicates on requests that must be ones (orders/paid, resends)."""
    accepted_unexpectedly: int = 0
    """Items accepted where a duplicate was expected: the earlier delivery was not seen."""
    rejected: Counter[str] = field(default_factory=Counter)
    """Refused items, per reason."""
    retries: Counter[str] = field(default_factory=Counter)
    """Per cause: an HTTP status or a transport error's class."""
    failed: Counter[str] = field(default_factory=Counter)
    """Items given up on after `give_up_after_s` of retries, per last cause."""
    resent: int = 0
    late: int = 0
    max_late_s: float = 0.0
    late_by_second: dict[int, float] = field(default_factory=dict)
    """Wall second (epoch) -> the most a request started in it was late, for late ones:
    lets a harness tell lateness its faults caused from a machine that cannot keep up."""
    wall_s: float = 0.0
    accepted_ids: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        wall = self.wall_s or 1e-9
        return {
            "actions": self.actions,
            "requests": self.requests,
            "attempts": self.attempts,
            "items": dict(sorted(self.items.items())),
            "events_accepted": self.events_accepted,
            "duplicates_expected": self.duplicates_expected,
            "accepted_unexpectedly": self.accepted_unexpectedly,
            "rejected": dict(self.rejected.most_common()),
            "retries": dict(self.retries.most_common()),
            "failed": dict(self.failed.most_common()),
            "resent": self.resent,
            "late": self.late,
            "max_late_s": round(self.max_late_s, 3),
            "late_by_second": {str(k): round(v, 3) for k, v in sorted(self.late_by_second.items())},
            "wall_s": round(self.wall_s, 3),
            "requests_per_s": round(self.attempts / wall, 1),
            "events_per_s": round(self.events_accepted / wall, 1),
        }


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), or None."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return min(float(text), RETRY_AFTER_MAX_S)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    wait = moment.timestamp() - (time.time() if now is None else now)
    return min(max(wait, 0.0), RETRY_AFTER_MAX_S)


def _reason(answer: Any, status: int) -> str:
    """A refusal's reason: its first field error, else the problem's title and detail."""
    if isinstance(answer, dict):
        errors = answer.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return f"{errors[0].get('field')}: {errors[0].get('reason')}"
        title = answer.get("title") or answer.get("detail")
        if title:
            return f"HTTP {status}: {title}"
    return f"HTTP {status}"


class Sender:
    """Sends actions as they fall due; `run` returns the tally once all were answered."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        shops: Mapping[str, ShopKeys],
        clock: Clock,
        options: SendOptions | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._shops = shops
        self._clock = clock
        self._options = options or SendOptions()
        self._sleep = sleep
        self._jitter = random.Random(f"{self._options.seed}:jitter")
        self.tally = Tally()
        self._chains: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, actions: Iterable[Action]) -> Tally:
        options = self._options
        self._bucket = TokenBucket(
            options.rate, max(1.0, options.rate / 20), self._clock.monotonic, sleep=self._sleep
        )
        self._in_flight = asyncio.Semaphore(options.concurrency)
        self._queued = asyncio.Semaphore(options.concurrency * 8)
        scale = self._clock.scale if isinstance(self._clock, ScaledClock) else 1.0
        window = timedelta(seconds=options.batch_window_s * scale)
        batcher = Batcher(self._shops, options.max_batch_items)
        began = self._clock.monotonic()
        opened = None
        try:
            for action in actions:
                if opened is not None and action.at > opened + window:
                    await self._flush(batcher)
                    opened = None
                if opened is None:
                    opened = action.at
                batcher.add(action)
                self.tally.actions += 1
            await self._flush(batcher)
            while self._tasks:
                await asyncio.gather(*list(self._tasks))
        finally:
            for task in self._tasks:
                task.cancel()
        self.tally.wall_s = self._clock.monotonic() - began
        return self.tally

    async def _flush(self, batcher: Batcher) -> None:
        requests = batcher.flush()
        if not requests:
            return
        wait = self._clock.seconds_until(max(request.due for request in requests))
        if wait > 0:
            await self._sleep(wait)
        for request in requests:
            await self._dispatch(request)

    async def _dispatch(self, request: HttpRequest) -> None:
        """Start sending `request` once each of its customers' previous request is answered."""
        await self._queued.acquire()
        before = {self._chains[c] for c in request.customers if c in self._chains}
        task = asyncio.create_task(self._deliver(request, before))
        for customer in request.customers:
            self._chains[customer] = task
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._queued.release()
            self._tasks.discard(finished)
            for customer in request.customers:
                if self._chains.get(customer) is finished:
                    del self._chains[customer]

        task.add_done_callback(done)

    async def _deliver(self, request: HttpRequest, before: set[asyncio.Task[None]]) -> None:
        if before:
            await asyncio.wait(before)
        self.tally.requests += 1
        late = -self._clock.seconds_until(request.due)
        self.tally.max_late_s = max(self.tally.max_late_s, late)
        if late > self._options.late_after_s:
            self.tally.late += 1
            second = int(time.time())
            self.tally.late_by_second[second] = max(late, self.tally.late_by_second.get(second, 0))
        await self._send(request, request.expect_duplicate)
        if self._resend(request):
            self.tally.resent += 1
            await self._send(request, True)

    def _resend(self, request: HttpRequest) -> bool:
        """Whether this request is one of the `duplicate_rate` sent twice (stable per run)."""
        rate = self._options.duplicate_rate
        if rate <= 0:
            return False
        text = f"{self._options.seed}:{request.refs[0]}:{request.path}".encode()
        pick = int.from_bytes(hashlib.sha256(text).digest()[:8], "big") / 2**64
        return pick < rate

    async def _send(self, request: HttpRequest, expect_duplicate: bool) -> None:
        deadline = self._clock.monotonic() + self._options.give_up_after_s
        backoff = BACKOFF_FIRST_S
        while True:
            await self._bucket.acquire()
            self.tally.attempts += 1
            wait: float | None = None
            try:
                async with self._in_flight:
                    response = await self._client.post(
                        request.path, content=request.body, headers=request.headers
                    )
            except httpx.TransportError as exc:
                cause = type(exc).__name__
            else:
                if response.status_code not in RETRY_STATUSES:
                    self._account(request, response, expect_duplicate)
                    return
                cause = str(response.status_code)
                wait = retry_after(response.headers.get("retry-after"))
            self.tally.retries[cause] += 1
            if wait is None:
                wait = backoff * (0.5 + self._jitter.random())
                backoff = min(backoff * 2, BACKOFF_MAX_S)
            if self._clock.monotonic() + wait > deadline:
                self.tally.failed[cause] += len(request.refs)
                return
            await self._sleep(wait)

    def _account(self, request: HttpRequest, response: httpx.Response, expected: bool) -> None:
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            answer = None
        results: list[Any]
        if response.status_code < 300 or (
            isinstance(answer, dict) and isinstance(answer.get("results"), list)
        ):
            if isinstance(answer, dict) and isinstance(answer.get("results"), list):
                results = answer["results"]
            elif isinstance(answer, dict) and "status" in answer:
                results = [answer]  # a Shopify webhook's answer is its one item's
            else:
                reason = f"HTTP {response.status_code}: unreadable answer"
                self.tally.items["rejected"] += len(request.refs)
                self.tally.rejected[reason] += len(request.refs)
                return
            for result in results:
                self._item(result, expected)
            return
        self.tally.items["rejected"] += len(request.refs)
        self.tally.rejected[_reason(answer, response.status_code)] += len(request.refs)

    def _item(self, result: Any, expected: bool) -> None:
        status = result.get("status") if isinstance(result, dict) else None
        if not isinstance(status, str):
            self.tally.rejected["unreadable item result"] += 1
            return
        self.tally.items[status] += 1
        if status == "accepted":
            ids = [i for i in result.get("event_ids") or () if isinstance(i, str)]
            self.tally.events_accepted += len(ids)
            if self._options.record_ids:
                self.tally.accepted_ids.extend(ids)
            if expected:
                self.tally.accepted_unexpectedly += 1
        elif status == "duplicate" and expected:
            self.tally.duplicates_expected += 1
        elif status == "rejected":
            self.tally.rejected[_reason(result, 422)] += 1
