"""Dispatch under crashes and a provider outage: every message reaches the customer once.

Real broker, PostgreSQL, SMTP sink and SMS sink, dispatch as a subprocess. Sizes are tunable
so that the suite stays fast while the issue's full sizes can be run on demand:

    NUDGE_TEST_CRASH_TRIGGERS=10000 NUDGE_TEST_OUTAGE_S=60 \\
        .venv/bin/pytest -q -s tests/integration/test_dispatch_resilience.py

Each test writes what it saw (kills, resends the sinks absorbed, refusals) to
.local/test-logs/dispatch-resilience-*.json and prints it (`-s`).
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from shared.topics import MESSAGES_STATUS
from tests.support.dispatch_process import (
    Arrivals,
    BulkShop,
    DispatchProcess,
    MessageLog,
    Planned,
    Sinks,
    arrivals,
    daytime_zone,
    epoch,
    metric_value,
    private_database,
    wait_until,
)
from tests.support.kafka_records import TopicWindow
from tests.support.stack import Stack

CRASH_TRIGGERS = int(os.environ.get("NUDGE_TEST_CRASH_TRIGGERS", "2000"))
"""The issue asks for 10,000; 2,000 keeps this test around a minute on a 2-core machine."""
CRASH_KILLS = int(os.environ.get("NUDGE_TEST_CRASH_KILLS", "4"))
CRASH_SEED = int(os.environ.get("NUDGE_TEST_CRASH_SEED", str(time.time_ns() % 1_000_000)))
OUTAGE_S = float(os.environ.get("NUDGE_TEST_OUTAGE_S", "20"))
"""The issue asks for 60 s; 20 s shows the same backoff and keeps the suite fast."""
OUTAGE_TRIGGERS = int(os.environ.get("NUDGE_TEST_OUTAGE_TRIGGERS", "400"))
SMS_EVERY = 5
"""Every fifth customer consented to SMS only: their trigger falls back from email to SMS."""
LEASE_S = "3"
"""A crashed sender's rows are taken over after this (60 s in production)."""
SMTP_POOL = 4
KILL_SLACK_S = 1.0
"""How long after a kill the bytes its process had written may still reach a sink."""


@pytest.fixture(scope="module")
def database(stack: Stack) -> str:
    """This module's own database (see `private_database`: another session's dispatch on the
    shared test database would take and send these messages)."""
    return private_database(stack.database_url, "nudge_test_dispatch_resilience")


@pytest.fixture
def sinks(logs_dir: Path) -> Iterator[Sinks]:
    found = Sinks(logs_dir)
    found.start()
    yield found
    found.stop()


@pytest.fixture
def bulk_shop(stack: Stack) -> Iterator[BulkShop]:
    shop = BulkShop(stack.kafka_bootstrap)
    yield shop
    shop.close()


def with_contacts(shop: BulkShop, log: MessageLog, count: int) -> list[str]:
    """Produce the customers and wait until dispatch knows them all (it is running)."""
    customers = shop.customers(count, sms_every=SMS_EVERY, time_zone=daytime_zone())
    wait_until(lambda: log.contacts(shop.id) == count, 120, f"{count} contacts in PostgreSQL")
    return customers


def all_sent(log: MessageLog, shop: BulkShop, count: int, timeout: float) -> None:
    def done() -> bool:
        return log.states(shop.id) == {"sent": count}

    try:
        wait_until(done, timeout, f"{count} messages sent")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; message log: {log.states(shop.id)}") from None


def stray_messages(sinks: Sinks, shop: BulkShop, planned: list[Planned]) -> int:
    """Messages at the sinks for this shop's customers that no trigger planned (e.g. the
    email of an SMS-only customer, or a message under another id)."""
    wanted = {p.message_id for p in planned}
    domain = f"@{shop.id}.example.com"
    strays = 0
    for email in sinks.emails()["messages"]:
        local = str(email["message_id"] or "").strip("<>").split("@", 1)[0]
        if any(to.endswith(domain) for to in email["rcpt_tos"]) and local not in wanted:
            strays += 1
    return strays


def copies_by_message_id(sinks: Sinks, planned: list[Planned]) -> dict[str, list[float]]:
    """Each planned email's receive times at the SMTP sink, one per copy, in order."""
    wanted = {p.message_id for p in planned if p.channel == "email"}
    emails = sinks.emails()
    copies: dict[str, list[float]] = {}
    for email in emails["messages"]:
        local = _local(str(email["message_id"] or ""))
        if local in wanted:
            copies.setdefault(local, []).append(epoch(email["received_at"]))
    for message_id, later in emails["copies_at"].items():
        if _local(message_id) in wanted:
            copies.setdefault(_local(message_id), []).extend(epoch(at) for at in later)
    return {message_id: sorted(times) for message_id, times in copies.items()}


def _local(message_id: str) -> str:
    return message_id.strip().strip("<>").split("@", 1)[0]


def each_copy_after_a_kill(times: list[float], killed_at: list[float]) -> bool:
    """Whether a kill came between every two consecutive copies of one email. A kill up to
    `KILL_SLACK_S` before the first copy counts: what the killed process had written (the end
    of DATA) still reaches the relay after its death."""
    return all(
        any(before - KILL_SLACK_S <= kill <= after for kill in killed_at)
        for before, after in pairwise(times)
    )


def report(logs_dir: Path, name: str, figures: dict[str, Any]) -> None:
    text = json.dumps(figures, indent=2, sort_keys=True)
    (logs_dir / f"dispatch-resilience-{name}.json").write_text(text + "\n")
    print(f"\n{name}: {text}")


def test_sigkilled_dispatch_delivers_every_message_exactly_once(
    stack: Stack, database: str, sinks: Sinks, bulk_shop: BulkShop, logs_dir: Path
) -> None:
    log = MessageLog(database)
    dispatch = DispatchProcess(
        stack.kafka_bootstrap,
        database,
        sinks,
        logs_dir / "dispatch-crash.log",
        lease_s=LEASE_S,
    )
    statuses = TopicWindow(stack.kafka_bootstrap, MESSAGES_STATUS.name)
    print(f"\nSIGKILL run: seed {CRASH_SEED} (NUDGE_TEST_CRASH_SEED={CRASH_SEED} repeats it)")
    rng = random.Random(CRASH_SEED)
    kills: list[float] = []
    killed_at: list[float] = []
    planned: list[Planned] = []
    started = time.monotonic()
    dispatch.start()
    try:
        customers = with_contacts(bulk_shop, log, CRASH_TRIGGERS)
        chunks = [customers[i :: CRASH_KILLS + 1] for i in range(CRASH_KILLS + 1)]
        for chunk in chunks[:-1]:
            planned += bulk_shop.triggers(chunk)  # flows in while dispatch works...
            pause = rng.uniform(0.1, 3.0)
            time.sleep(pause)
            killed_at.append(time.time())
            dispatch.kill()  # ...and dies at some point of reading, deciding or sending
            kills.append(round(pause, 2))
            dispatch.start()  # same group id, same database
        planned += bulk_shop.triggers(chunks[-1])
        all_sent(log, bulk_shop, CRASH_TRIGGERS, timeout=180)
        attempts = log.attempts(bulk_shop.id)
    finally:
        dispatch.stop()
    seen: Arrivals = arrivals(sinks, planned)
    sent_statuses = {
        r.value["data"]["trigger_id"]
        for r in statuses.for_shop(bulk_shop.id)
        if r.value["data"]["status"] == "sent"
    }
    statuses.close()

    email_copies = copies_by_message_id(sinks, planned)
    unexplained = {
        message_id: times
        for message_id, times in email_copies.items()
        if len(times) > 1 and not each_copy_after_a_kill(times, killed_at)
    }
    figures = {
        "triggers": CRASH_TRIGGERS,
        "sms_only": sum(p.channel == "sms" for p in planned),
        "seed": CRASH_SEED,
        "kills_after_s": kills,
        "delivered_distinct": len(seen.delivered),
        "sms_sent_twice": seen.sms_duplicates,
        "email_second_copies": sum(len(times) - 1 for times in email_copies.values()),
        "email_second_copies_with_no_kill_between": len(unexplained),
        "messages_claimed_more_than_once": sum(a > 1 for a in attempts.values()),
        "triggers_without_a_sent_status": CRASH_TRIGGERS - len(sent_statuses),
        "seconds": round(time.monotonic() - started, 1),
    }
    report(logs_dir, "crash", figures)  # before the asserts: the seed and counts of a failure

    assert len(planned) == CRASH_TRIGGERS
    assert seen.missing(planned) == []
    assert len(seen.delivered) == CRASH_TRIGGERS  # distinct Message-IDs / idempotency keys
    # The sinks do not deduplicate, as real providers do not: every copy counts.
    # Twilio has no idempotency key: a text whose call a kill interrupted is looked up in the
    # provider's Messages list before it is sent again, so no SMS goes out twice.
    assert seen.sms_duplicates == 0
    # SMTP cannot tell whether a message whose DATA ended just before the kill was accepted:
    # such a message is sent again after the restart, under the same Message-ID. Any other
    # second copy (no kill between the two) is a bug.
    assert unexplained == {}, f"emails sent twice with no kill in between: {unexplained}"
    assert seen.recorded == CRASH_TRIGGERS  # first copies; later ones are in copies_at
    assert stray_messages(sinks, bulk_shop, planned) == 0
    assert sorted(attempts) == sorted(p.message_id for p in planned)  # each on its channel
    # Statuses are acknowledged before the outcome is committed: a kill in between says
    # `sent` again when the message is retaken, never not at all.
    assert sent_statuses == {p.trigger_id for p in planned}


def test_an_smtp_outage_delays_email_without_losing_or_doubling_it(
    stack: Stack, database: str, sinks: Sinks, bulk_shop: BulkShop, logs_dir: Path
) -> None:
    log = MessageLog(database)
    dispatch = DispatchProcess(
        stack.kafka_bootstrap, database, sinks, logs_dir / "dispatch-outage.log"
    )
    dispatch.env["NUDGE_SMTP_POOL_SIZE"] = str(SMTP_POOL)
    planned: list[Planned] = []
    started = time.monotonic()
    dispatch.start()
    try:
        customers = with_contacts(bulk_shop, log, OUTAGE_TRIGGERS)
        sinks.control_smtp(refuse_for_s=OUTAGE_S, refuse_code=451)
        outage_began = time.monotonic()
        for i in range(4):  # triggers keep flowing through the first half of the outage
            planned += bulk_shop.triggers(customers[i::4])
            time.sleep(OUTAGE_S / 8)
        all_sent(log, bulk_shop, OUTAGE_TRIGGERS, timeout=4 * OUTAGE_S + 180)
        recovered_after_s = time.monotonic() - outage_began
        metrics = dispatch.metrics()
        attempts = log.attempts(bulk_shop.id)
    finally:
        dispatch.stop()
    seen = arrivals(sinks, planned)
    smtp = sinks.emails()
    refused = sum(
        n
        for sender, n in smtp["refused_by_sender"].items()
        if sender.endswith(f"@{bulk_shop.id}.example")
    )
    emails = [p for p in planned if p.channel == "email"]
    retries = sum(attempts[p.message_id] - 1 for p in emails)
    transient = metric_value(
        metrics, "nudge_dispatch_provider_errors_total", channel="email", kind="transient"
    )
    backoffs = metric_value(metrics, "nudge_dispatch_backoff_seconds_count", channel="email")
    backoff_total_s = metric_value(metrics, "nudge_dispatch_backoff_seconds_sum", channel="email")

    # Everything arrives once the relay is back, and nothing twice.
    assert seen.missing(planned) == []
    assert seen.recorded == OUTAGE_TRIGGERS
    assert seen.duplicates == 0
    assert stray_messages(sinks, bulk_shop, planned) == 0
    # The outage was felt, and every refused call is an attempt dispatch recorded and paced:
    # no hidden retry loop, each failure followed by a backoff (none gave up).
    assert refused > 0
    assert retries == refused
    assert transient >= refused
    assert backoffs == transient
    assert backoff_total_s > 0
    # The connections were kept through the outage, not reopened for every try.
    assert smtp["connections"] <= 2 * SMTP_POOL
    report(
        logs_dir,
        "outage",
        {
            "outage_s": OUTAGE_S,
            "triggers": OUTAGE_TRIGGERS,
            "emails": len(emails),
            "sms": OUTAGE_TRIGGERS - len(emails),
            "smtp_refusals": refused,
            "refusals_per_email": round(refused / max(1, len(emails)), 2),
            "max_attempts_of_an_email": max(attempts[p.message_id] for p in emails),
            "backoffs_observed": backoffs,
            "mean_backoff_s": round(backoff_total_s / max(1.0, backoffs), 1),
            "smtp_connections": smtp["connections"],
            "all_sent_after_outage_began_s": round(recovered_after_s, 1),
            "seconds": round(time.monotonic() - started, 1),
        },
    )
