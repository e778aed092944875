"""The inbox: following the sinks' logs as they grow, and performing each reply at its wall
time (receipt + delay / time scale) on a fake clock, with what it skips and what it logs."""

from __future__ import annotations

import asyncio
import io
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from services.simulator.answers import Outcome
from services.simulator.inbox import Inbox, Job, LogFollower, Schedule, due_wall
from services.simulator.population import Customer, Mix, customer
from services.simulator.received import Received, Recipients
from services.simulator.replies import Reply, ReplyKind, replies_to

SHOPS = ("sim-native",)
EAGER = Mix(
    phone_share=1.0,
    click_probability=1.0,
    stop_reply_probability=1.0,
    unsubscribe_probability=1.0,
)
"""Everyone replies: the probabilities are certain, not drawn around a mean."""
T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
SCALE = 600.0
FEEDBACK = "http://feedback.test"


def mail_line(index: int, message_id: str, at: datetime, **changes: Any) -> bytes:
    record = {
        "received_at": at.isoformat(),
        "rcpt_tos": [f"c{index}.s7.sim-native@sim.example.com"],
        "message_id": f"<{message_id}@sim-native.example.com>",
        "headers": [
            ["List-Unsubscribe", f"<{FEEDBACK}/u/tok>"],
            ["List-Unsubscribe-Post", "List-Unsubscribe=One-Click"],
        ],
        "links": [f"{FEEDBACK}/c/k0.x.y"],
        "duplicate": False,
        **changes,
    }
    return orjson.dumps(record) + b"\n"


def text_line(index: int, message_id: str, at: datetime) -> bytes:
    person = customer(7, SHOPS, index, EAGER)
    record = {
        "received_at": at.isoformat(),
        "to": person.phone,
        "from": "+15005550006",
        "body": "Your cart is waiting. Reply STOP to opt out",
        "idempotency_key": message_id,
        "duplicate": False,
    }
    return orjson.dumps(record) + b"\n"


class FakeWall:
    """Wall time that moves only when the inbox sleeps."""

    def __init__(self, start: float) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)
        self.now += max(seconds, 1e-3)


class Recorder:
    """Performs nothing; notes when each reply was asked for."""

    def __init__(self, wall: FakeWall) -> None:
        self.wall = wall
        self.done: list[tuple[float, str, str, ReplyKind]] = []

    async def perform(self, person: Customer, message: Received, reply: Reply) -> Outcome:
        self.done.append((self.wall.time(), message.message_id, person.key, reply.kind))
        return Outcome("ok", 200, "", 1)


def test_a_follower_reads_whole_lines_as_they_are_appended(tmp_path: Path) -> None:
    path = tmp_path / "sink.jsonl"
    follower = LogFollower(path)
    assert follower.read() == []  # not there yet
    path.write_bytes(b'{"n": 1}\n{"n": 2}\n{"n": ')
    assert follower.read() == [{"n": 1}, {"n": 2}]
    with path.open("ab") as file:
        file.write(b'3}\nnot json\n[1]\n{"n": 4}\n')
    assert follower.read() == [{"n": 3}, {"n": 4}]
    assert follower.read() == []
    path.write_bytes(b'{"n": 5}\n')  # replaced by a shorter file: read from its start
    assert follower.read() == [{"n": 5}]


def test_a_reply_is_due_its_delay_over_the_time_scale_after_receipt() -> None:
    assert due_wall(T0, timedelta(minutes=10), 600.0) == T0.timestamp() + 1.0
    assert due_wall(T0, timedelta(hours=1), 1.0) == T0.timestamp() + 3600.0


def test_the_schedule_gives_what_is_due_in_time_order() -> None:
    person = customer(7, SHOPS, 0)
    message = Received("email", "m", person.email, T0, ())
    schedule = Schedule()
    for due, kind in ((5.0, ReplyKind.CLICK), (2.0, ReplyKind.STOP), (5.0, ReplyKind.SURVEY)):
        schedule.push(Job(due, person, message, Reply(kind, timedelta())))
    assert schedule.next_due() == 2.0
    assert schedule.pop_due(1.9) == []
    assert [j.reply.kind for j in schedule.pop_due(5.0)] == [
        ReplyKind.STOP,
        ReplyKind.CLICK,  # ties in the order they came
        ReplyKind.SURVEY,
    ]
    assert schedule.next_due() is None and len(schedule) == 0


async def test_replies_are_performed_at_receipt_plus_delay_over_the_scale(tmp_path: Path) -> None:
    start = T0.timestamp()
    wall = FakeWall(start)
    recorder = Recorder(wall)
    smtp, sms = tmp_path / "smtp.jsonl", tmp_path / "sms.jsonl"
    first, second, third = (str(uuid.UUID(int=n)) for n in (1, 2, 3))
    received = T0 + timedelta(seconds=2)
    smtp.write_bytes(
        mail_line(4, first, received)
        + mail_line(4, first, received)  # a copy the sink did not mark (it restarted)
        + mail_line(4, second, received, duplicate=True)
        + mail_line(4, third, T0 - timedelta(hours=1))  # before the inbox started
        + mail_line(900, second, received)  # not of this population
        + mail_line(4, third, received, rcpt_tos=["ada@example.com"])  # a demo customer
    )
    sms.write_bytes(text_line(4, second, received))
    out = io.BytesIO()
    inbox = Inbox(
        Recipients(7, SHOPS, 10, EAGER),
        recorder,
        scale=SCALE,
        simulated=lambda w: start + (w - start) * SCALE,
        smtp_log=smtp,
        sms_log=sms,
        replies_log=out,
        since=start,
        wall=wall.time,
        sleep=wall.sleep,
        poll_s=5.0,
    )
    inbox.stop_at = received.timestamp() + 40 * 60 / SCALE  # 40 simulated minutes on
    tally = await inbox.run()

    person = customer(7, SHOPS, 4, EAGER)
    expected = [
        (received.timestamp() + reply.delay.total_seconds() / SCALE, message_id, reply.kind)
        for message_id, channel in ((first, "email"), (second, "sms"))
        for reply in replies_to(person, message_id, channel, survey=False, links=channel == "email")
    ]
    due = sorted(e for e in expected if e[0] <= inbox.stop_at)
    assert due, "the delays drawn leave nothing due within the run: pick other ids"
    assert [(round(t, 6), m, k) for t, m, _, k in recorder.done] == [
        (round(t, 6), m, k) for t, m, k in due
    ]
    assert tally.pending == len(expected) - len(due) > 0  # the click comes later
    assert tally.messages == {"email": 1, "sms": 1}
    assert (tally.copies, tally.earlier, tally.strangers) == (1, 1, 2)
    performed = Counter(k.value for _, _, k in due)
    assert tally.as_json()["replies"] == {kind: {"ok": n} for kind, n in sorted(performed.items())}

    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    assert [(line["message_id"], line["kind"]) for line in lines] == [(m, k) for _, m, k in due]
    line, (at, _, kind) = lines[0], due[0]
    assert line["customer_id"] == person.customer_id and line["shop_id"] == "sim-native"
    assert line["outcome"] == "ok" and line["kind"] == kind
    wall_at = datetime.fromisoformat(line["wall"].replace("Z", "+00:00")).timestamp()
    assert abs(wall_at - at) < 1e-3
    simulated = datetime.fromisoformat(line["simulated"].replace("Z", "+00:00")).timestamp()
    assert abs(simulated - (start + (at - start) * SCALE)) < 1
