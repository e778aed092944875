"""The sender's own logic against a fake ingest (an httpx mock transport): retries with the
same bytes, Retry-After, each customer's order, outcomes, pacing on an injected clock."""

from __future__ import annotations

import asyncio
import time as wall
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import orjson
import pytest

from services.simulator.behaviour import Action, Kind, Viewed
from services.simulator.formats import Format, ShopKeys
from services.simulator.population import customer
from services.simulator.products import CATALOG
from services.simulator.sender import Sender, SendOptions, Tally, retry_after

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SHOPS = {"sim-native": ShopKeys("sim-native", Format.NATIVE, "nk_key", "whsec")}


class FakeTime:
    """A clock at scale 1 that moves only when the code under test sleeps."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment
        self.elapsed = 0.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.moment

    def seconds_until(self, moment: datetime) -> float:
        return (moment - self.moment).total_seconds()

    def after(self, seconds: float) -> datetime:
        return self.moment + timedelta(seconds=seconds)

    def monotonic(self) -> float:
        return self.elapsed

    async def sleep(self, seconds: float) -> None:
        """Lets the other tasks run up to their next wait first, as a real sleep would; never
        less than a microsecond (a token bucket's wait may fall below the clock's resolution,
        which real time gets past on its own)."""
        self.sleeps.append(seconds)
        await asyncio.sleep(0)
        seconds = max(seconds, 1e-6)
        self.moment += timedelta(seconds=seconds)
        self.elapsed += seconds


class FakeIngest:
    """Answers native batches as ingest does: accepted once per event id, then duplicate.
    `script` gives, per event id, answers to play before the normal one (a status with
    headers, or an exception to raise)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.bodies: list[bytes] = []
        self.log: list[tuple[str, str]] = []
        self.script: dict[str, list[tuple[int, dict[str, str]] | Exception]] = {}
        self.delays: dict[str, float] = {}
        self.refuse: dict[str, tuple[int, dict[str, Any]]] = {}

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        body = request.content
        self.bodies.append(body)
        events = orjson.loads(body)["events"]
        first = events[0]["id"]
        self.log.append(("start", first))
        if self.delays.get(first):
            await asyncio.sleep(self.delays[first])
        self.log.append(("end", first))
        pending = self.script.get(first)
        if pending:
            step = pending.pop(0)
            if isinstance(step, Exception):
                raise step
            status, headers = step
            return httpx.Response(status, headers=headers, json={"title": "busy"})
        if first in self.refuse:
            status, answer = self.refuse[first]
            return httpx.Response(status, json=answer)
        results = []
        for index, event in enumerate(events):
            outcome = "duplicate" if event["id"] in self.seen else "accepted"
            self.seen.add(event["id"])
            results.append(
                {"index": index, "status": outcome, "id": event["id"], "event_ids": [event["id"]]}
            )
        return httpx.Response(200, json={"results": results})


def _views(moments: list[tuple[int, float]]) -> list[Action]:
    """Product views of customers (by index) at T0 + seconds, in time order."""
    people = {index: customer(3, ("sim-native",), index) for index, _ in moments}
    seqs: Counter[int] = Counter()
    actions = []
    for index, offset in sorted(moments, key=lambda m: m[1]):
        product = CATALOG[seqs[index] % len(CATALOG)]
        actions.append(
            Action(
                T0 + timedelta(seconds=offset),
                people[index],
                seqs[index],
                Kind.VIEWED,
                Viewed(product),
            )
        )
        seqs[index] += 1
    return actions


def _event_id(action: Action) -> str:
    return f"sim-{action.ref('product.viewed')}"


async def _run(
    actions: list[Action],
    ingest: FakeIngest,
    time: FakeTime,
    **options: Any,
) -> Tally:
    settings = {"batch_window_s": 0.0, "rate": 1000.0, **options}
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(ingest), base_url="http://ingest.test"
    ) as client:
        sender = Sender(client, SHOPS, time, SendOptions(**settings), sleep=time.sleep)
        return await sender.run(actions)


@pytest.fixture
def ingest() -> FakeIngest:
    return FakeIngest()


async def test_429_and_503_are_retried_after_their_retry_after_with_the_same_bytes(
    ingest: FakeIngest,
) -> None:
    [action] = _views([(1, 0.0)])
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    ingest.script[_event_id(action)] = [
        (429, {"Retry-After": "3"}),
        (503, {"Retry-After": later}),
        (503, {}),
    ]
    time = FakeTime(T0)
    tally = await _run([action], ingest, time)
    assert tally.items == Counter(accepted=1)
    assert tally.retries == Counter({"429": 1, "503": 2})
    assert tally.attempts == 4
    assert len(set(ingest.bodies)) == 1, "every attempt sends the very same bytes"
    assert 3.0 in time.sleeps
    assert any(25 < s <= 30 for s in time.sleeps), "an HTTP-date Retry-After is honoured"


async def test_transport_errors_are_retried_with_a_growing_backoff(ingest: FakeIngest) -> None:
    [action] = _views([(1, 0.0)])
    ingest.script[_event_id(action)] = [
        httpx.ConnectError("refused"),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
    ]
    time = FakeTime(T0)
    tally = await _run([action], ingest, time)
    assert tally.items == Counter(accepted=1)
    assert tally.retries == Counter(ConnectError=2, ReadTimeout=1)
    waits = [s for s in time.sleeps if s > 0]
    assert len(waits) == 3
    assert waits[2] > waits[0]


async def test_a_request_retried_past_the_budget_is_counted_failed(ingest: FakeIngest) -> None:
    [action] = _views([(1, 0.0)])
    ingest.script[_event_id(action)] = [(503, {"Retry-After": "5"})] * 10
    tally = await _run([action], ingest, FakeTime(T0), give_up_after_s=12.0)
    assert tally.failed == Counter({"503": 1})
    assert tally.items == Counter()


async def test_each_customer_waits_for_the_answer_to_its_previous_request(
    ingest: FakeIngest,
) -> None:
    actions = _views([(1, 0.0), (2, 0.5), (1, 1.0), (2, 1.5), (2, 2.0)])
    first_of_1, first_of_2, second_of_1 = actions[0], actions[1], actions[2]
    ingest.delays[_event_id(first_of_1)] = 0.05  # real time: the others go on meanwhile
    tally = await _run(actions, ingest, FakeTime(T0 + timedelta(seconds=10)), concurrency=4)
    assert tally.items == Counter(accepted=5)
    log = ingest.log
    assert log.index(("start", _event_id(second_of_1))) > log.index(("end", _event_id(first_of_1)))
    customer_2 = [_event_id(a) for a in actions if a.customer.index == 2]
    ends_of_2 = [log.index(("end", event_id)) for event_id in customer_2]
    assert ends_of_2 == sorted(ends_of_2)
    assert max(ends_of_2) < log.index(("end", _event_id(first_of_1))), "2 is not held up by 1"
    assert log.index(("start", _event_id(first_of_2))) < log.index(("end", _event_id(first_of_1)))


async def test_actions_are_sent_when_due_and_late_ones_are_counted(ingest: FakeIngest) -> None:
    actions = _views([(1, 0.0), (2, 100.0)])
    time = FakeTime(T0 + timedelta(seconds=5))  # the first is 5 s behind already
    tally = await _run(actions, ingest, time, late_after_s=1.0)
    assert tally.late == 1
    assert tally.max_late_s == pytest.approx(5.0)
    ((second, most),) = tally.late_by_second.items()  # the wall second it was sent in
    assert most == pytest.approx(5.0) and abs(second - wall.time()) < 60
    assert time.moment >= T0 + timedelta(seconds=100)
    assert sum(time.sleeps) == pytest.approx(95.0)


async def test_refusals_are_counted_with_their_reasons(ingest: FakeIngest) -> None:
    actions = _views([(1, 0.0), (2, 1.0)])
    ingest.refuse[_event_id(actions[0])] = (
        422,
        {
            "rejected": 1,
            "results": [
                {
                    "index": 0,
                    "status": "rejected",
                    "errors": [{"field": "data.product", "reason": "Field required"}],
                }
            ],
        },
    )
    ingest.refuse[_event_id(actions[1])] = (401, {"title": "invalid API key", "status": 401})
    tally = await _run(actions, ingest, FakeTime(T0))
    assert tally.items == Counter(rejected=2)
    assert tally.rejected == Counter(
        {"data.product: Field required": 1, "HTTP 401: invalid API key": 1}
    )
    assert tally.retries == Counter()


async def test_duplicated_deliveries_resend_the_same_bytes_and_come_back_duplicate(
    ingest: FakeIngest,
) -> None:
    actions = _views([(i, float(i)) for i in range(20)])
    tally = await _run(actions, ingest, FakeTime(T0), duplicate_rate=0.3, seed=5, record_ids=True)
    assert 0 < tally.resent < 20
    assert tally.items == Counter(accepted=20, duplicate=tally.resent)
    assert tally.duplicates_expected == tally.resent
    assert sorted(tally.accepted_ids) == sorted(_event_id(a) for a in actions)
    repeated = [body for body, count in Counter(ingest.bodies).items() if count > 1]
    assert len(repeated) == tally.resent
    again = await _run(actions, FakeIngest(), FakeTime(T0), duplicate_rate=0.3, seed=5)
    assert again.resent == tally.resent, "the same requests are chosen on a rerun"


async def test_requests_are_paced_to_the_rate_on_the_injected_clock(ingest: FakeIngest) -> None:
    actions = _views([(i, i * 0.001) for i in range(50)])
    time = FakeTime(T0)
    tally = await _run(actions, ingest, time, rate=10.0, concurrency=8)
    assert tally.attempts == 50
    # A burst of one request, then one every tenth of a second.
    assert time.elapsed == pytest.approx(4.9, abs=0.01)


async def test_actions_due_within_a_window_share_a_native_batch(ingest: FakeIngest) -> None:
    actions = _views([(i, i * 0.001) for i in range(30)])
    tally = await _run(actions, ingest, FakeTime(T0), batch_window_s=0.5, max_batch_items=25)
    assert tally.requests == 2
    assert tally.items == Counter(accepted=30)


def _at(seconds: float) -> str:
    return format_datetime(datetime.fromtimestamp(seconds, UTC), usegmt=True)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("7", 7.0),
        ("100000", 60.0),
        (_at(1_000_010), 10.0),
        (_at(999_000), 0.0),
        ("soon", None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(header: str | None, expected: float) -> None:
    assert retry_after(header, now=1_000_000) == expected
