"""Bounces and complaints end to end: the real feedback process takes SNS-signed SES
notifications, the real dispatch honours what it publishes at send time, and
`nudge contacts unsuppress` lets mail through again, leaving an audit row.

Each test sends a real email first (dispatch to the SMTP sink), so the notification names it
by its Message-ID, as SES would.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.feedback.directory.postgres import PostgresDirectory
from shared.topics import FEEDBACK_EVENTS, MESSAGES_STATUS
from tests.integration.test_dispatch import Shop, emails_to, final_status, header
from tests.support.dispatch_process import DispatchProcess, Sinks, wait_until
from tests.support.feedback_process import running_feedback
from tests.support.ingest_process import ROOT
from tests.support.kafka_records import TopicWindow
from tests.support.sns import TOPIC_ARN, Signer, bounce, complaint
from tests.support.stack import Stack

pytestmark = pytest.mark.integration
SIGNER = Signer()


@pytest.fixture(scope="module")
def sinks(logs_dir: Path) -> Iterator[Sinks]:
    found = Sinks(logs_dir)
    found.start()
    yield found
    found.stop()


@pytest.fixture(scope="module")
def dispatch(stack: Stack, sinks: Sinks, logs_dir: Path) -> Iterator[DispatchProcess]:
    process = DispatchProcess(
        stack.kafka_bootstrap, stack.database_url, sinks, logs_dir / "dispatch-bounces.log"
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def feedback_url(
    stack: Stack, logs_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    certs, ca_file = SIGNER.write(tmp_path_factory.mktemp("sns"))
    with running_feedback(
        stack.kafka_bootstrap,
        stack.database_url,
        logs_dir / "feedback-bounces.log",
        sns_topic_arns=TOPIC_ARN,
        sns_certs_dir=str(certs),
        sns_signing_ca_file=str(ca_file),
        sns_cert_fetch="false",
    ) as base:
        yield base


@pytest.fixture
def statuses(stack: Stack) -> Iterator[TopicWindow]:
    window = TopicWindow(stack.kafka_bootstrap, MESSAGES_STATUS.name)
    yield window
    window.close()


@pytest.fixture
def feedback_events(stack: Stack) -> Iterator[TopicWindow]:
    window = TopicWindow(stack.kafka_bootstrap, FEEDBACK_EVENTS.name)
    yield window
    window.close()


def _query(stack: Stack, statement: str, **params: Any) -> list[Any]:
    async def run() -> list[Any]:
        engine = create_async_engine(stack.database_url)
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(text(statement), params)).mappings())
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _known_to_feedback(stack: Stack, message_id: str) -> bool:
    async def look() -> bool:
        engine = create_async_engine(stack.database_url)
        try:
            return await PostgresDirectory(engine).message(message_id) is not None
        finally:
            await engine.dispose()

    return asyncio.run(look())


def _suppressed(stack: Stack, shop: Shop, address: str) -> set[str]:
    """The scopes dispatch holds in force for the address."""
    rows = _query(
        stack,
        "SELECT scope FROM dispatch_suppressions WHERE shop_id = :shop AND address = :address"
        " AND suppressed_at IS NOT NULL"
        " AND (cleared_at IS NULL OR suppressed_at > cleared_at)",
        shop=shop.id,
        address=address,
    )
    return {row["scope"] for row in rows}


def _wait_for_scopes(stack: Stack, shop: Shop, address: str, scopes: set[str]) -> None:
    def reached() -> bool:
        return _suppressed(stack, shop, address) == scopes

    wait_until(reached, 30, f"dispatch to hold {sorted(scopes)} for {address} at {shop.id}")


def _sent_email(
    sinks: Sinks, statuses: TopicWindow, shop: Shop, customer: str, **trigger: Any
) -> str:
    """Send one email through dispatch; its Message-ID header."""
    fired = shop.trigger(customer, **trigger)
    status = final_status(statuses, shop, fired)
    assert status.value["type"] == "message.sent", status.value
    address = f"{customer}@example.com"
    emails = wait_until(lambda: emails_to(sinks, address), 10, f"the email to {address}")
    found = header(emails[-1], "Message-ID")
    assert found is not None
    return found


def _post(feedback_url: str, body: dict[str, str]) -> dict[str, Any]:
    answer = httpx.post(
        f"{feedback_url}/email/sns",
        content=httpx.Request("POST", "/", json=body).content,
        headers={"content-type": "text/plain; charset=UTF-8"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _unsuppress(stack: Stack, shop: Shop, address: str) -> str:
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": stack.kafka_bootstrap,
        "DATABASE_URL": stack.database_url,
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.cli",
            "contacts",
            "unsuppress",
            shop.id,
            address,
            "--reason",
            "the customer fixed their mailbox",
            "--by",
            "ops@shop.example",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _outcome(statuses: TopicWindow, shop: Shop, trigger: str) -> tuple[str, str]:
    status = final_status(statuses, shop, trigger)
    return status.value["type"], status.value["data"].get("reason") or ""


def test_a_hard_bounce_stops_all_email_in_every_shop_until_cleared(
    stack: Stack,
    dispatch: DispatchProcess,
    sinks: Sinks,
    feedback_url: str,
    statuses: TopicWindow,
    feedback_events: TopicWindow,
) -> None:
    customer = f"h{uuid.uuid4().hex[:8]}"
    address = f"{customer}@example.com"
    shop, other = Shop(stack.kafka_bootstrap), Shop(stack.kafka_bootstrap)
    try:
        shop.customer(customer)
        other.customer(customer)  # the same mailbox, at another shop
        message_id = _sent_email(sinks, statuses, shop, customer)
        local = message_id.strip("<>").split("@")[0]
        wait_until(lambda: _known_to_feedback(stack, local), 30, "feedback learns the email")

        notification = SIGNER.notification(bounce(address, message_id_header=message_id))
        assert _post(feedback_url, notification) == {"status": "accepted", "events": 2}
        published = [
            r.value for r in feedback_events.since_start() if r.value["type"] == "email.bounced"
        ]
        by_shop = {event["shopid"]: event for event in published}
        assert by_shop[shop.id]["data"]["kind"] == "hard"
        assert by_shop[shop.id]["data"]["message"]["message_id"] == local
        assert by_shop[other.id]["customerid"] == customer
        for each in (shop, other):
            _wait_for_scopes(stack, each, address, {"all"})

        marketing = shop.trigger(
            customer, campaign="browse_abandonment", step="reminder", template="browse/reminder"
        )
        order = shop.trigger(
            customer,
            campaign="order_confirmation",
            step="confirmation",
            template="order/confirmation",
            transactional=True,
        )
        elsewhere = other.trigger(
            customer,
            campaign="order_confirmation",
            step="confirmation",
            template="order/confirmation",
            transactional=True,
        )
        for sender, fired in ((shop, marketing), (shop, order), (other, elsewhere)):
            kind, reason = _outcome(statuses, sender, fired)
            assert kind == "message.skipped" and reason.startswith("suppressed"), reason
            assert "hard bounce" in reason

        printed = _unsuppress(stack, shop, address)
        assert f"{shop.id} {customer} {address}: cleared (all:hard_bounce)" in printed
        audit = _query(
            stack,
            "SELECT customer_id, actor, reason, event_id FROM feedback_suppression_audit"
            " WHERE shop_id = :shop AND address = :address",
            shop=shop.id,
            address=address,
        )
        assert [(a["customer_id"], a["actor"]) for a in audit] == [(customer, "ops@shop.example")]
        assert audit[0]["reason"] == "the customer fixed their mailbox"
        _wait_for_scopes(stack, shop, address, set())
        assert _suppressed(stack, other, address) == {"all"}  # cleared for one shop only

        _post(feedback_url, notification)  # SNS delivers the old notification once more
        again = shop.trigger(
            customer,
            campaign="order_confirmation",
            step="confirmation",
            template="order/confirmation",
            transactional=True,
        )
        assert _outcome(statuses, shop, again) == ("message.sent", "")
        assert _suppressed(stack, shop, address) == set()
    finally:
        shop.close()
        other.close()


def test_a_complaint_stops_marketing_but_not_orders_until_cleared(
    stack: Stack,
    dispatch: DispatchProcess,
    sinks: Sinks,
    feedback_url: str,
    statuses: TopicWindow,
    feedback_events: TopicWindow,
) -> None:
    customer = f"k{uuid.uuid4().hex[:8]}"
    address = f"{customer}@example.com"
    shop = Shop(stack.kafka_bootstrap)
    try:
        shop.customer(customer)
        message_id = _sent_email(
            sinks,
            statuses,
            shop,
            customer,
            campaign="order_confirmation",
            step="confirmation",
            template="order/confirmation",
            transactional=True,
        )
        local = message_id.strip("<>").split("@")[0]
        wait_until(lambda: _known_to_feedback(stack, local), 30, "feedback learns the email")

        notification = SIGNER.notification(
            complaint(address, message_id_header=message_id), version="2"
        )
        assert _post(feedback_url, notification) == {"status": "accepted", "events": 1}
        (event,) = [r.value for r in feedback_events.for_shop(shop.id)]
        assert event["type"] == "complaint.received"
        assert event["data"]["message"]["message_id"] == local
        _wait_for_scopes(stack, shop, address, {"marketing"})

        marketing = shop.trigger(customer)
        order = shop.trigger(
            customer,
            campaign="order_confirmation",
            step="confirmation",
            template="order/confirmation",
            transactional=True,
        )
        kind, reason = _outcome(statuses, shop, marketing)
        assert kind == "message.skipped" and reason.startswith("suppressed"), reason
        assert _outcome(statuses, shop, order) == ("message.sent", "")

        _unsuppress(stack, shop, address)
        _wait_for_scopes(stack, shop, address, set())
        after = shop.trigger(customer)  # the same step, in a new journey
        assert _outcome(statuses, shop, after) == ("message.sent", "")
    finally:
        shop.close()


def test_a_forged_notification_changes_nothing(
    stack: Stack, feedback_url: str, feedback_events: TopicWindow
) -> None:
    impostor = Signer()  # signs as well as SNS, under a CA the service does not trust
    body = impostor.notification(bounce("anyone@example.com"))
    body["SigningCertURL"] = SIGNER.cert_url  # even naming the trusted certificate
    answer = httpx.post(f"{feedback_url}/email/sns", json=body, timeout=30)
    assert answer.status_code == 403
    assert answer.json()["errors"][0]["field"] == "Signature"
    assert [r for r in feedback_events.since_start() if "anyone" in str(r.value)] == []
