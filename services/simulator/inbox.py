"""The simulated customers' inboxes: the SMTP and SMS sinks' logs, followed as they grow, and
each reply the customers decide on (replies.py) performed at its time (answers.py).

A reply is due `delay` of simulated time after its message reached the sink: on a clock of
scale `s`, `delay / s` of wall time after the sink's `received_at`. Every reply performed is
one JSON line in the replies log (wall and simulated time, customer, message id, kind,
outcome).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Final, Protocol

import orjson

from services.simulator.answers import Outcome
from services.simulator.population import Customer
from services.simulator.received import (
    Received,
    Recipients,
    from_sms,
    from_smtp,
    survey_link,
)
from services.simulator.replies import EMAIL, SMS, Reply, replies_to

log = logging.getLogger(__name__)
CHUNK_BYTES: Final = 4 * 1024 * 1024
POLL_S: Final = 0.1


class LogFollower:
    """Reads the complete JSON lines appended to a file since the last call (the file may
    not exist yet; one that shrank was replaced, and is read again from its start)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self._partial = b""

    def read(self) -> list[dict[str, Any]]:
        try:
            size = self.path.stat().st_size
        except FileNotFoundError:
            return []
        if size < self.offset:
            self.offset, self._partial = 0, b""
        if size == self.offset:
            return []
        with self.path.open("rb") as file:
            file.seek(self.offset)
            chunk = file.read(CHUNK_BYTES)
        self.offset += len(chunk)
        lines = (self._partial + chunk).split(b"\n")
        self._partial = lines.pop()
        records = []
        for line in lines:
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                log.warning("%s: a line that is not JSON, skipped", self.path)
                continue
            if isinstance(record, dict):
                records.append(record)
        return records


def due_wall(received: datetime, delay: timedelta, scale: float) -> float:
    """Wall time (unix seconds) at which a reply `delay` of simulated time after a message
    received at wall time `received` is due, on a clock `scale` times faster than the wall."""
    return received.timestamp() + delay.total_seconds() / scale


@dataclass(frozen=True)
class Job:
    """One reply to perform."""

    due: float
    """Wall time, unix seconds."""
    customer: Customer
    message: Received
    reply: Reply


class Schedule:
    """Jobs by due time (ties in the order they came)."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Job]] = []
        self._order = itertools.count()

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, job: Job) -> None:
        heapq.heappush(self._heap, (job.due, next(self._order), job))

    def next_due(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: float) -> list[Job]:
        due = []
        while self._heap and self._heap[0][0] <= now:
            due.append(heapq.heappop(self._heap)[2])
        return due


@dataclass
class ReplyTally:
    """What the inbox read and did."""

    messages: Counter[str] = field(default_factory=Counter)
    """Messages to the population read, per channel (duplicates not counted)."""
    strangers: int = 0
    """Messages to anyone else (another run, a demo customer), left alone."""
    earlier: int = 0
    """Messages the sinks took before the inbox started, left alone."""
    copies: int = 0
    """Copies of a message already read (the sink saw no duplicate: it restarted)."""
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(kind, outcome) of every reply performed."""
    pending: int = 0
    """Replies still due when the inbox stopped."""

    def as_json(self) -> dict[str, Any]:
        replies: dict[str, dict[str, int]] = {}
        for (kind, outcome), count in sorted(self.outcomes.items()):
            replies.setdefault(kind, {})[outcome] = count
        return {
            "replies": replies,
            "replies_pending": self.pending,
            "messages_read": dict(sorted(self.messages.items())),
            "messages_skipped": {
                "strangers": self.strangers,
                "earlier": self.earlier,
                "copies": self.copies,
            },
        }


class Performer(Protocol):
    """Performs one reply (answers.Answerer against the feedback service)."""

    async def perform(self, person: Customer, message: Received, reply: Reply) -> Outcome: ...


class Inbox:
    """Follows the sinks' logs and performs the population's replies on time.

    `since` (wall time): messages the sinks took earlier belong to another run and are left
    alone. `run` returns once `stop_at` (wall time) has passed, having performed what was due
    until then; replies still under way get `grace_s` more to finish. `wall` and `sleep` are
    injectable for tests.
    """

    def __init__(
        self,
        recipients: Recipients,
        answerer: Performer,
        *,
        scale: float,
        simulated: Callable[[float], float],
        smtp_log: Path | None = None,
        sms_log: Path | None = None,
        replies_log: IO[bytes] | None = None,
        since: float | None = None,
        concurrency: int = 32,
        grace_s: float = 30.0,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        poll_s: float = POLL_S,
    ) -> None:
        self.recipients = recipients
        self.answerer = answerer
        self.scale = scale
        self.simulated = simulated
        """Wall time -> simulated time (unix seconds): the services' clock."""
        self.followers = [
            (EMAIL, LogFollower(path)) for path in ([smtp_log] if smtp_log else [])
        ] + [(SMS, LogFollower(path)) for path in ([sms_log] if sms_log else [])]
        self.replies_log = replies_log
        self.since = since
        self.wall = wall
        self.sleep = sleep
        self.poll_s = poll_s
        self.grace_s = grace_s
        self.schedule = Schedule()
        self.tally = ReplyTally()
        self.stop_at: float | None = None
        self._seen: set[tuple[str, str, str]] = set()
        self._slots = asyncio.Semaphore(concurrency)
        self._running: set[asyncio.Task[None]] = set()

    def received(self) -> Iterator[Received]:
        """The messages appended to the logs since the last call."""
        for channel, follower in self.followers:
            for record in follower.read():
                if channel == EMAIL:
                    yield from from_smtp(record)
                else:
                    text = from_sms(record)
                    if text is not None:
                        yield text

    def take(self, message: Received) -> None:
        """Read one message: schedule its recipient's replies."""
        if self.since is not None and message.received_at.timestamp() < self.since:
            self.tally.earlier += 1
            return
        person = self.recipients.of(message)
        if person is None:
            self.tally.strangers += 1
            return
        key = (message.channel, message.message_id, message.to.lower())
        if key in self._seen:
            self.tally.copies += 1
            return
        self._seen.add(key)
        self.tally.messages[message.channel] += 1
        replies = replies_to(
            person,
            message.message_id,
            message.channel,
            survey=is_survey(message),
            links=bool(message.links),
        )
        for reply in replies:
            due = due_wall(message.received_at, reply.delay, self.scale)
            self.schedule.push(Job(due, person, message, reply))

    async def run(self) -> ReplyTally:
        try:
            while True:
                for message in self.received():
                    self.take(message)
                now = self.wall()
                until = now if self.stop_at is None else min(now, self.stop_at)
                for job in self.schedule.pop_due(until):
                    await self._slots.acquire()
                    task = asyncio.create_task(self._perform(job))
                    self._running.add(task)
                    task.add_done_callback(self._running.discard)
                if self.stop_at is not None and now >= self.stop_at:
                    break
                wait = self.poll_s
                upcoming = self.schedule.next_due()
                if upcoming is not None:
                    wait = min(wait, max(upcoming - now, 0.0))
                if self.stop_at is not None:
                    wait = min(wait, max(self.stop_at - now, 0.0))
                await self.sleep(wait)
            if self._running:  # replies under way finish, retries included, up to a bound
                await asyncio.wait(set(self._running), timeout=self.grace_s)
        finally:
            unfinished = list(self._running)
            for task in unfinished:
                task.cancel()
            self.tally.pending = len(self.schedule) + len(unfinished)
        return self.tally

    async def _perform(self, job: Job) -> None:
        try:
            outcome = await self.answerer.perform(job.customer, job.message, job.reply)
        except Exception as exc:  # a bug here must not stop the other replies
            log.exception("a %s reply failed unexpectedly", job.reply.kind)
            outcome = Outcome("failed", None, f"{type(exc).__name__}: {exc}")
        finally:
            self._slots.release()
        self.tally.outcomes[(job.reply.kind.value, outcome.outcome)] += 1
        self._write(job, outcome)

    def _write(self, job: Job, outcome: Outcome) -> None:
        if self.replies_log is None:
            return
        wall = self.wall()
        reached = self.simulated(job.message.received_at.timestamp())
        record = {
            "wall": _iso(wall),
            "simulated": _iso(self.simulated(wall)),
            "due": _iso(reached + job.reply.delay.total_seconds()),
            "shop_id": job.customer.shop,
            "customer_id": job.customer.customer_id,
            "customer": job.customer.index,
            "channel": job.message.channel,
            "message_id": job.message.message_id,
            "kind": job.reply.kind.value,
            "outcome": outcome.outcome,
            "status": outcome.status,
            "detail": outcome.detail,
            "score": outcome.score,
            "attempts": outcome.attempts,
        }
        self.replies_log.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
        self.replies_log.flush()


def is_survey(message: Received) -> bool:
    """Whether a message asks for a survey answer, as its text shows: a survey link."""
    return survey_link(message.links) is not None


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


@contextlib.contextmanager
def replies_file(path: Path | None) -> Iterator[IO[bytes] | None]:
    """The replies log opened for appending, or None."""
    if path is None:
        yield None
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as file:
        yield file
