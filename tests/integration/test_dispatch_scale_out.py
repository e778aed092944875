"""Concurrent senders on one message log keep the frequency cap between them: two dispatch
processes, one process deciding four batches at once, and intake apart from two sending
processes (`NUDGE_DISPATCH_ROLES`).

Each customer gets two marketing triggers at the same instant; with the default cap (one
marketing message per channel per 16 h) exactly one may go out. The processes claim one
message at a time, so the two messages of a customer are claimed by two senders at once,
again and again: a sender must not decide on a customer while another one is deciding on
them (it would not see that send in the history yet).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.dispatch_process import (
    BulkShop,
    DispatchProcess,
    MessageLog,
    Sinks,
    daytime_zone,
    private_database,
    wait_until,
)
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

CUSTOMERS = 150


@pytest.mark.parametrize(
    ("roles", "deciders"),
    [(("intake,send", "intake,send"), 2), (("intake,send",), 4), (("intake", "send", "send"), 2)],
    ids=["two-processes", "four-deciders", "intake-and-two-senders"],
)
def test_concurrent_senders_never_send_a_customer_two_capped_messages(
    stack: Stack, logs_dir: Path, roles: tuple[str, ...], deciders: int
) -> None:
    processes = len(roles)
    database = private_database(stack.database_url, f"nudge_test_scale_out_{processes}")
    log = MessageLog(database)
    sinks = Sinks(logs_dir)
    shop = BulkShop(stack.kafka_bootstrap)
    fleet = [
        DispatchProcess(
            stack.kafka_bootstrap,
            database,
            sinks,
            logs_dir / f"dispatch-scale-out-{processes}-{n}.log",
            claim_batch="1",
            deciders=str(deciders),
            roles=role,
        )
        for n, role in enumerate(roles)
    ]
    for dispatch in fleet[1:]:  # one consumer group, as in production
        dispatch.env["NUDGE_DISPATCH_GROUP_ID"] = fleet[0].env["NUDGE_DISPATCH_GROUP_ID"]
    sinks.start()
    try:
        for dispatch in fleet:
            dispatch.start()
        # SMS only (no fallback channel), where it is daytime (no quiet hours)
        customers = shop.customers(CUSTOMERS, sms_every=1, time_zone=daytime_zone())
        wait_until(lambda: log.contacts(shop.id) == CUSTOMERS, 60, "contacts in PostgreSQL")
        shop.triggers([c for c in customers for _ in range(2)])  # two at once, each customer

        def settled() -> bool:
            states = log.states(shop.id)
            return states.get("sent", 0) + states.get("skipped", 0) == 2 * CUSTOMERS

        wait_until(settled, 120, f"{2 * CUSTOMERS} messages decided")
        outcomes = log.outcomes_by_customer(shop.id)
        texts = sinks.texts()["messages"]
    finally:
        for dispatch in fleet:
            dispatch.stop()
        shop.close()
        sinks.stop()

    twice = {c: o for c, o in outcomes.items() if o != ["sent", "skipped"]}
    assert twice == {}, f"{len(twice)} customers not capped to one message: {twice}"
    received = [t for t in texts if t["to"].startswith("+14152")]
    assert len({t["to"] for t in received}) == len(received) == CUSTOMERS
