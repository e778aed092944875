"""Dispatch as SREs run it (`python -m services.dispatch`), with the real local sinks.

The SMTP sink (aiosmtpd) and the SMS sink (Twilio's API shape) run as their own processes;
tests read what arrived through their `/messages` pages and steer them through `/control`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import orjson
from kafka import KafkaProducer
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from deploy.local.sinks.sms_sink import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN
from shared.events import trigger_id
from shared.events.messages import message_id
from shared.keyring import MasterKeyRing
from shared.topics import SHOP_EVENTS, TRIGGERS_FIRED
from tests.support.ingest_process import ROOT, TEST_SECRET_KEY, free_port
from tests.support.shops import unique_shop_id

TEST_LINK_KEYS = MasterKeyRing.single(SecretStr(TEST_SECRET_KEY), "test").link_keys()
"""What `nudge keys derive links` prints for the tests' master key: dispatch's only key."""


def _start(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )


def _wait_http(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited: {log_path.read_text()[-3000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready in {timeout}s: {log_path.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen[bytes] | None, sig: signal.Signals = signal.SIGTERM) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _control(url: str, settings: dict[str, Any]) -> None:
    """Tell a sink what to do; a refusal raises with the sink's reason (it names the field)."""
    answer = httpx.post(url, json=settings, timeout=5)
    if answer.status_code != 200:
        raise ValueError(f"{url} refused {settings}: {answer.status_code} {answer.text}")


class Sinks:
    """The SMTP and SMS sinks, on free ports."""

    def __init__(self, logs: Path) -> None:
        self.smtp_port, self.smtp_control = free_port(), free_port()
        self.sms_port = free_port()
        self.logs = logs
        self._procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        env = dict(os.environ)
        smtp = _start(
            [
                "-m",
                "deploy.local.sinks.smtp_sink",
                "--port",
                str(self.smtp_port),
                "--control-port",
                str(self.smtp_control),
            ],
            env,
            self.logs / "smtp-sink.log",
        )
        sms = _start(
            ["-m", "deploy.local.sinks.sms_sink", "--port", str(self.sms_port)],
            env,
            self.logs / "sms-sink.log",
        )
        self._procs = [smtp, sms]
        _wait_http(f"{self.smtp_url}/healthz", smtp, self.logs / "smtp-sink.log", 30)
        _wait_http(f"{self.sms_url}/healthz", sms, self.logs / "sms-sink.log", 30)

    @property
    def smtp_url(self) -> str:
        return f"http://127.0.0.1:{self.smtp_control}"

    @property
    def sms_url(self) -> str:
        return f"http://127.0.0.1:{self.sms_port}"

    def emails(self, *, brief: bool = True) -> dict[str, Any]:
        """What the SMTP sink received; `brief=False` adds the parsed headers and text."""
        url = f"{self.smtp_url}/messages" + ("?brief=1" if brief else "")
        result: dict[str, Any] = httpx.get(url, timeout=30).json()
        return result

    def texts(self) -> dict[str, Any]:
        result: dict[str, Any] = httpx.get(f"{self.sms_url}/messages", timeout=5).json()
        return result

    def control_smtp(self, **settings: Any) -> None:
        _control(f"{self.smtp_url}/control", settings)

    def control_sms(self, **settings: Any) -> None:
        _control(f"{self.sms_url}/control", settings)

    def env(self) -> dict[str, str]:
        return {
            "NUDGE_SMTP_HOST": "127.0.0.1",
            "NUDGE_SMTP_PORT": str(self.smtp_port),
            "NUDGE_TWILIO_BASE_URL": self.sms_url,
            "NUDGE_TWILIO_ACCOUNT_SID": DEFAULT_ACCOUNT_SID,
            "NUDGE_TWILIO_AUTH_TOKEN": DEFAULT_AUTH_TOKEN,
            "NUDGE_TWILIO_FROM_NUMBER": "+15005550006",
        }

    def stop(self) -> None:
        for proc in self._procs:
            _stop(proc)

    def pids(self) -> dict[str, int]:
        """The sinks' process ids (`smtp`, `sms`): what a benchmark reads their CPU time by."""
        return dict(zip(("smtp", "sms"), (proc.pid for proc in self._procs), strict=True))


class DispatchProcess:
    def __init__(
        self, kafka: str, database_url: str, sinks: Sinks, log_path: Path, **settings: str
    ) -> None:
        self.port = free_port()
        self.log_path = log_path
        master_keys = ("NUDGE_SECRET_KEY", "NUDGE_SECRET_KEY_FILE", "NUDGE_SECRET_KEYS_FILE")
        self.env = {
            **{k: v for k, v in os.environ.items() if k not in master_keys},
            **sinks.env(),
            "KAFKA_BOOTSTRAP_SERVERS": kafka,
            "DATABASE_URL": database_url,
            "NUDGE_LINK_KEYS": TEST_LINK_KEYS.to_text(),
            "NUDGE_DISPATCH_PORT": str(self.port),
            "NUDGE_DISPATCH_GROUP_ID": f"test-dispatch-{time.time_ns()}",
            "NUDGE_DISPATCH_START_FROM": "latest",
            "NUDGE_DISPATCH_POLL_INTERVAL_S": "0.1",
            "NUDGE_DISPATCH_CONTACT_WAIT_S": "20",
            "NUDGE_DISPATCH_DEFAULT_SHOP_URL": "https://{shop_id}.example",
            **{f"NUDGE_DISPATCH_{k.upper()}": v for k, v in settings.items()},
        }
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self._proc = _start(["-m", "services.dispatch"], self.env, self.log_path)
        url = f"http://127.0.0.1:{self.port}/readyz"
        _wait_http(url, self._proc, self.log_path, 60)

    def stop(self) -> None:
        _stop(self._proc)

    def kill(self) -> None:
        _stop(self._proc, signal.SIGKILL)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def metrics(self) -> str:
        return scrape(self.port)


def wait_until(
    check: Callable[[], Any], timeout: float, what: str, *, interval: float = 0.3
) -> Any:
    """Poll `check` every `interval` seconds until it returns something truthy; fail naming
    `what`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# --- Many triggers at once: crash, outage and bench runs ------------------------------------


def metric_value(exposition: str, name: str, **labels: str) -> float:
    """The sum of the samples called `name` whose labels include `labels` (0 when none)."""
    total = 0.0
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def scrape(port: int) -> str:
    """A service's /metrics page."""
    response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    response.raise_for_status()
    return response.text


def daytime_zone(margin_h: int = 2) -> str:
    """A time zone where it is well outside quiet hours (21:00-08:00) now, so that marketing
    SMS go out at once."""
    now = datetime.now(UTC)
    for zone in (
        "UTC",
        "Europe/Amsterdam",
        "America/New_York",
        "America/Los_Angeles",
        "Pacific/Honolulu",
        "Pacific/Auckland",
        "Asia/Tokyo",
        "Asia/Kolkata",
        "Asia/Dubai",
    ):
        if 8 + margin_h <= now.astimezone(ZoneInfo(zone)).hour < 21 - margin_h:
            return zone
    raise AssertionError("no zone in daytime: extend the list")


@dataclass(frozen=True)
class Planned:
    """One trigger a run produced and the one message it must lead to."""

    trigger_id: str
    customer_id: str
    channel: str
    """`email`, or `sms` for customers who consented to SMS only (email falls back to it)."""
    message_id: str
    """Dispatch's id for the send: the email's Message-ID local part, the SMS idempotency key."""
    produced_at: float
    """Wall-clock seconds when the trigger was handed to the producer (its event time)."""


class BulkShop:
    """One shop with many customers, each with one marketing trigger (email, else SMS).

    One trigger per customer keeps the frequency cap out of the way: every trigger must lead
    to exactly one message. Customers arrive as `customer.updated` (dispatch's contact store
    takes it like `customer.created`) so that a triggers service running on the same broker
    (`make run`) does not start welcome journeys for them. Every trigger offers (email, sms):
    customers who consented to SMS only fall back to SMS.
    """

    CAMPAIGN, STEP, TEMPLATE = "abandoned_cart", "reminder-2", "cart/reminder-2"

    def __init__(self, bootstrap: str, shop_id: str | None = None) -> None:
        self.id = shop_id or unique_shop_id()
        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap, acks="all", linger_ms=5, batch_size=256 * 1024
        )
        self.channels: dict[str, str] = {}

    def close(self) -> None:
        self.producer.close()

    def customers(self, count: int, *, sms_every: int = 0, time_zone: str = "UTC") -> list[str]:
        """Produce `count` customers; every `sms_every`-th one is SMS-only."""
        now = datetime.now(UTC).isoformat()
        granted = {"status": "granted", "source": "signup_form", "recorded_at": now}
        denied = {**granted, "status": "denied"}
        made = []
        for i in range(count):
            customer = f"c{len(self.channels):06d}"
            sms_only = sms_every > 0 and i % sms_every == sms_every - 1
            self.channels[customer] = "sms" if sms_only else "email"
            data = {
                "email": f"{customer}@{self.id}.example.com",
                "phone": f"+14152{len(self.channels):06d}",
                "first_name": "Ada",
                "time_zone": time_zone,
                "consent": {"email": denied if sms_only else granted, "sms": granted},
            }
            self._send(SHOP_EVENTS.name, customer, "customer.updated", data, str(uuid.uuid4()))
            made.append(customer)
        self.producer.flush()
        return made

    def triggers(self, customers: list[str]) -> list[Planned]:
        """One trigger per customer, produced at once (flushed before returning)."""
        planned = []
        for customer in customers:
            journey = f"j-{uuid.uuid4().hex[:12]}"
            the_id = trigger_id(self.id, customer, self.CAMPAIGN, journey, self.STEP)
            at = time.time()
            data = {
                "campaign_id": self.CAMPAIGN,
                "journey_id": journey,
                "step_id": self.STEP,
                "step_index": 1,
                "transactional": False,
                "channels": ["email", "sms"],
                "template_id": self.TEMPLATE,
                "due_at": datetime.fromtimestamp(at, UTC).isoformat(),
                "context": {
                    "cart": {
                        "items": [{"product_id": "p1", "title": "Coffee beans", "quantity": 2}],
                        "recovery_url": f"https://{self.id}.example/cart/{customer}",
                    }
                },
            }
            self._send(TRIGGERS_FIRED.name, customer, "trigger.fired", data, the_id, at)
            channel = self.channels[customer]
            planned.append(
                Planned(the_id, customer, channel, message_id(the_id, channel), produced_at=at)
            )
        self.producer.flush()
        return planned

    def _send(
        self,
        topic: str,
        customer: str,
        kind: str,
        data: dict[str, Any],
        event_id: str,
        at: float | None = None,
    ) -> None:
        when = datetime.fromtimestamp(at, UTC) if at is not None else datetime.now(UTC)
        record = {
            "specversion": "1.0",
            "id": event_id,
            "source": f"/shops/{self.id}/test",
            "type": kind,
            "time": when.isoformat(),
            "shopid": self.id,
            "customerid": customer,
            "data": data,
        }
        self.producer.send(topic, key=f"{self.id}:{customer}".encode(), value=orjson.dumps(record))


@dataclass(frozen=True)
class Arrivals:
    """What the sinks received of a run's planned messages."""

    delivered: dict[str, float]
    """Message id -> the sink's first receive time (epoch seconds), one entry per message."""
    recorded: int
    """Entries the sinks recorded as new messages for these ids: == len(delivered) when no
    email was recorded twice and no SMS was sent twice."""
    email_duplicates: int
    """Emails whose Message-ID the SMTP sink had seen: accepted, as a relay does, and shown
    once by mail clients that hide repeated Message-IDs."""
    sms_duplicates: int
    """Texts whose idempotency key an earlier text had: delivered twice, as Twilio does not
    deduplicate (each is also in `recorded`)."""

    @property
    def duplicates(self) -> int:
        return self.email_duplicates + self.sms_duplicates

    def missing(self, planned: list[Planned]) -> list[Planned]:
        return [p for p in planned if p.message_id not in self.delivered]


def arrivals(sinks: Sinks, planned: list[Planned]) -> Arrivals:
    """Match the sinks' records to the planned messages (records of other shops are ignored).

    The SMTP sink keys messages on `<message_id@domain>`, the SMS sink on the idempotency key.
    """
    wanted = {p.message_id for p in planned}
    delivered: dict[str, float] = {}
    recorded = sms_duplicates = 0
    emails = sinks.emails()
    for message in emails["messages"]:
        local = _local_part(str(message.get("message_id") or ""))
        if local in wanted:
            recorded += 1
            delivered.setdefault(local, epoch(message["received_at"]))
    email_duplicates = sum(
        n for mid, n in emails["duplicate_ids"].items() if _local_part(mid) in wanted
    )
    if any(p.channel == "sms" for p in planned):
        for message in sinks.texts()["messages"]:
            key = message.get("idempotency_key")
            if key in wanted:
                recorded += 1
                sms_duplicates += bool(message.get("duplicate"))
                delivered.setdefault(key, epoch(message["received_at"]))
    return Arrivals(delivered, recorded, email_duplicates, sms_duplicates)


def _local_part(header: str) -> str:
    return header.strip().strip("<>").split("@", 1)[0]


def epoch(iso: str) -> float:
    """A sink's ISO 8601 receive time as Unix seconds."""
    return datetime.fromisoformat(iso).timestamp()


class MessageLog:
    """Reads dispatch's message log for one shop (one short connection per call)."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url

    def _fetch(self, query: str, **params: Any) -> list[Any]:
        async def run() -> list[Any]:
            engine = create_async_engine(self.url, poolclass=NullPool)
            try:
                async with engine.connect() as conn:
                    return list(await conn.execute(text(query), params))
            finally:
                await engine.dispose()

        return asyncio.run(run())

    def states(self, shop_id: str, campaign: str = BulkShop.CAMPAIGN) -> dict[str, int]:
        """State -> rows of the shop's campaign (another service's triggers left aside)."""
        rows = self._fetch(
            "SELECT state, count(*) FROM messages WHERE shop_id = :shop"
            " AND campaign_id = :campaign GROUP BY state",
            shop=shop_id,
            campaign=campaign,
        )
        return {str(r[0]): int(r[1]) for r in rows}

    def outcomes_by_customer(self, shop_id: str) -> dict[str, list[str]]:
        """Customer -> the states of their messages, sorted."""
        rows = self._fetch(
            "SELECT customer_id, state FROM messages WHERE shop_id = :shop ORDER BY 1, 2",
            shop=shop_id,
        )
        found: dict[str, list[str]] = {}
        for customer, state in rows:
            found.setdefault(str(customer), []).append(str(state))
        return found

    def attempts(self, shop_id: str, campaign: str = BulkShop.CAMPAIGN) -> dict[str, int]:
        """Message id -> provider attempts spent (claims not refunded), for sent rows."""
        rows = self._fetch(
            "SELECT message_id, attempts FROM messages WHERE shop_id = :shop"
            " AND campaign_id = :campaign AND state = 'sent'",
            shop=shop_id,
            campaign=campaign,
        )
        return {str(r[0]): int(r[1]) for r in rows}

    def sent_span(self, shop_id: str) -> tuple[int, float]:
        """(messages sent, seconds from the first send to the last), as dispatch recorded them:
        the rate against a server that keeps no record of its own."""
        rows = self._fetch(
            "SELECT count(*), extract(epoch FROM max(sent_at) - min(sent_at)) FROM messages"
            " WHERE shop_id = :shop AND state = 'sent'",
            shop=shop_id,
        )
        return int(rows[0][0]), float(rows[0][1] or 0.0)

    def contacts(self, shop_id: str) -> int:
        rows = self._fetch("SELECT count(*) FROM contacts WHERE shop_id = :shop", shop=shop_id)
        return int(rows[0][0])


def private_database(database_url: str, name: str) -> str:
    """A database of its own next to `database_url`'s, created if missing and migrated from
    scratch; returns its URL.

    Dispatch's senders share whatever database they point at (`FOR UPDATE SKIP LOCKED`), so a
    dispatch of another test session on the same database would take this run's messages and
    send them to *its* sinks; and every session resets the shared test database's schema when
    it starts. Runs that count every message (crash, outage, bench) therefore use their own.
    """
    from alembic import command
    from alembic.config import Config
    from sqlalchemy.engine import make_url

    url = make_url(database_url)

    async def create() -> None:
        engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                found = await conn.execute(
                    text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
                )
                if found.first() is None:
                    await conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await engine.dispose()

    asyncio.run(create())
    private = url.set(database=name).render_as_string(hide_password=False)
    config = Config(str(ROOT / "shared" / "db" / "alembic.ini"))
    config.attributes["database_url"] = private
    command.downgrade(config, "base")
    command.upgrade(config, "head")
    return private
