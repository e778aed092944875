"""`python -m tests.bench.dispatch`: dispatch's sending rate and trigger-to-sink latency.

Needs the local broker and PostgreSQL (`deploy/local/run.sh infra`; KAFKA_BOOTSTRAP_SERVERS and
DATABASE_URL override them). Runs in a database of its own (`nudge_bench`, next to
DATABASE_URL's, created and migrated here), so that no other dispatch shares its message log.

1. Reference: raw aiosmtplib sends to the local SMTP sink (same pool size as dispatch, same
   message size) and raw POSTs to the SMS sink (dispatch's HTTP client, same connection
   limit): what the sinks and this machine allow without any bookkeeping. Then the floor
   (tests/bench/dispatch_floor.py): only the steps every dispatch must take, batched.
2. Throughput: customers first, then N email triggers produced while dispatch is stopped;
   dispatch starts and works through them (Kafka intake, PostgreSQL claim / decide / record /
   settle, render, send). Rate = messages between the sinks' first and last receive times.
   The same for SMS. Dispatch's own rate limits are raised above the targets for this run
   (NUDGE_DISPATCH_EMAIL_PER_S / SMS_PER_S default to 2,000 / 1,000 per second).
3. Latency: triggers at a steady rate below capacity; trigger event time -> the sink's
   receive time, p50 / p99.
4. Email to a second SMTP server, postfix's smtp-sink (C; accepts and discards; unpacked by
   `make bench-tools`): the raw reference and dispatch again, the rate from dispatch's own
   send records. The Python sink costs about as much CPU per email as dispatch, on the same
   two cores; this shows dispatch's rate without that.

`--split` runs 1-3 with intake in a process of its own beside the `--processes` sending ones
(NUDGE_DISPATCH_ROLES), as a deployment that scales them apart would; `make bench` runs one
process with both roles, then intake beside two senders.

Figures go to stdout and .local/bench/dispatch.json (dispatch-split.json); progress to stderr.
Nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiosmtplib
import httpx
import orjson

from deploy.local.sinks.sms_sink import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN
from services.dispatch.providers.email import build_email
from services.dispatch.providers.http_pool import HttpPool
from shared.kafka import create_topics
from shared.settings import DatabaseSettings, KafkaSettings
from tests.bench.dispatch_floor import (
    SMS_BODY,
    SMS_CONNECTIONS,
    SMTP_POOL,
    email_text,
    floor_rate,
)
from tests.bench.ingest import machine
from tests.bench.service import cpu_seconds, peak_rss_mib, rss_mib
from tests.support.dispatch_process import (
    BulkShop,
    DispatchProcess,
    MessageLog,
    Planned,
    Sinks,
    arrivals,
    daytime_zone,
    private_database,
    wait_until,
)
from tests.support.ingest_process import free_port

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / ".local" / "bench"
EMAIL_TARGET_PER_S = 1_000
SMS_TARGET_PER_S = 2_000
IN_FLIGHT = 64
"""NUDGE_DISPATCH_IN_FLIGHT's default: requests the SMS reference keeps in progress."""
POLL_S = 1.0
"""How often a run asks the message log whether it is done: each look is a new connection and
a count over the shop's rows (17 ms of PostgreSQL's time by the end of a run), on the cores
dispatch is measured on; the rates come from the sinks' times, not from these looks."""
FORM = "application/x-www-form-urlencoded"
SMTP_SINK_BIN = ROOT / ".cache" / "postfix" / "usr" / "sbin" / "smtp-sink"
"""Postfix's smtp-sink, unpacked from Debian's package by `make bench-tools` (mk/bench.mk)."""


class Fleet:
    """N dispatch processes in one consumer group, sharing the message log: how dispatch
    scales out (intake splits the partitions, senders the rows, FOR UPDATE SKIP LOCKED)."""

    def __init__(self, processes: list[DispatchProcess]) -> None:
        self.processes = processes
        self._cpu_when_ready = 0.0

    def start(self) -> None:
        """One after the other, each ready before the next. Each one's CPU counts from the
        moment it is ready: start-up (imports, templates) is left out, and the work of the
        first while the next starts is in."""
        self._cpu_when_ready = 0.0
        for process in self.processes:
            process.start()
            assert process.pid is not None
            self._cpu_when_ready += cpu_seconds(process.pid)

    def stop(self) -> None:
        for process in self.processes:
            process.stop()

    def pids(self) -> list[int]:
        return [pid for process in self.processes if (pid := process.pid) is not None]

    def cpu_seconds_since_ready(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids()) - self._cpu_when_ready


def say(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Rate:
    messages: int
    seconds: float

    @property
    def per_s(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class Phase:
    channel: str
    messages: int
    rate: Rate
    """Between the sinks' first and last receive times."""
    wall_s: float
    """From starting dispatch until the last row was recorded as sent (startup included)."""
    resends: int
    cpu_cores: float
    """Dispatch's CPU seconds over the wall time."""

    @property
    def cpu_us_per_message(self) -> float:
        """Dispatch's CPU per message, every step included: the steadier figure on a shared
        machine, where the rate moves with whatever else runs."""
        return self.cpu_cores * self.wall_s / self.messages * 1e6


def phase_json(phase: Phase) -> dict[str, Any]:
    return {**asdict(phase), "cpu_us_per_message": phase.cpu_us_per_message}


@dataclass(frozen=True)
class Latency:
    rate_per_s: float
    messages: int
    p50_ms: float
    p99_ms: float
    max_ms: float


# --- reference: the sinks without dispatch --------------------------------------------------


async def raw_smtp(port: int, count: int) -> Rate:
    body = email_text()
    payloads = [
        build_email(
            sender="Bench <hello@bench.example>",
            to=f"ref{i}@bench.example.com",
            subject="Your cart is waiting",
            text=body,
            message_id=f"{uuid.uuid4()}@bench.example",
        ).as_bytes()
        for i in range(count)
    ]
    queue = list(reversed(payloads))

    async def connection() -> None:
        smtp = aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False)
        await smtp.connect()
        while queue:
            payload = queue.pop()
            await smtp.sendmail("hello@bench.example", ["ref@bench.example.com"], payload)
        await smtp.quit()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(SMTP_POOL)))
    return Rate(count, time.perf_counter() - started)


async def raw_sms(base_url: str, count: int) -> Rate:
    path = f"/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"
    credentials = base64.b64encode(f"{DEFAULT_ACCOUNT_SID}:{DEFAULT_AUTH_TOKEN}".encode())
    auth = {"Authorization": "Basic " + credentials.decode()}
    client = HttpPool(
        base_url,
        max_connections=SMS_CONNECTIONS,
        timeout_s=10.0,
        connect_timeout_s=3.0,
        headers=auth,
    )
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(i: int) -> None:
        async with gate:
            form = {"To": f"+14152{i:06d}", "From": "+15005550006", "Body": SMS_BODY}
            headers = {"Idempotency-Key": str(uuid.uuid4()), "Content-Type": FORM}
            body = urlencode(form).encode()
            answer = await client.request("POST", path, body=body, headers=headers)
            if answer.status != 201:
                raise RuntimeError(f"the SMS sink answered {answer.status} {answer.reason}")

    started = time.perf_counter()
    try:
        await asyncio.gather(*(one(i) for i in range(count)))
    finally:
        await client.close()
    return Rate(count, time.perf_counter() - started)


# --- dispatch --------------------------------------------------------------------------------


def sink_span(sinks: Sinks, planned: list[Planned]) -> tuple[Rate, int, dict[str, float]]:
    seen = arrivals(sinks, planned)
    times = sorted(seen.delivered.values())
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return Rate(max(0, len(times) - 1), span), seen.duplicates, seen.delivered


def throughput(
    channel: str,
    dispatch: Fleet,
    shop: BulkShop,
    customers: list[str],
    log: MessageLog,
    sinks: Sinks,
    already_sent: int,
    timeout: float,
) -> Phase:
    say(f"{channel}: {len(customers)} triggers produced while dispatch is stopped")
    dispatch.stop()
    planned = shop.triggers(customers)
    started = time.monotonic()
    dispatch.start()
    want = already_sent + len(planned)
    wait_until(
        lambda: log.states(shop.id).get("sent", 0) >= want,
        timeout,
        f"{len(planned)} {channel} messages sent ({log.states(shop.id)})",
        interval=POLL_S,
    )
    wall = time.monotonic() - started
    cores = dispatch.cpu_seconds_since_ready() / wall
    rate, resends, _ = sink_span(sinks, planned)
    say(f"{channel}: {rate.per_s:,.0f}/s at the sink, {wall:.1f}s wall")
    return Phase(channel, len(planned), rate, wall, resends, cores)


def latency(
    dispatch: Fleet,
    shop: BulkShop,
    customers: list[str],
    log: MessageLog,
    sinks: Sinks,
    rate: float,
    already_sent: int,
) -> Latency:
    say(f"latency: {len(customers)} triggers at {rate:.0f}/s")
    tick = 0.05
    per_tick = max(1, round(rate * tick))
    planned: list[Planned] = []
    next_at = time.monotonic()
    for i in range(0, len(customers), per_tick):
        planned += shop.triggers(customers[i : i + per_tick])
        next_at += tick
        time.sleep(max(0.0, next_at - time.monotonic()))
    want = already_sent + len(planned)
    wait_until(
        lambda: log.states(shop.id).get("sent", 0) >= want, 120, "latency run sent", interval=POLL_S
    )
    _, _, delivered = sink_span(sinks, planned)
    delays = sorted(
        (delivered[p.message_id] - p.produced_at) * 1000
        for p in planned
        if p.message_id in delivered
    )
    cuts = statistics.quantiles(delays, n=100)
    return Latency(rate, len(delays), cuts[49], cuts[98], delays[-1])


@contextmanager
def c_smtp_server() -> Iterator[int | None]:
    """Postfix's smtp-sink on a free port; None when it is not unpacked."""
    if not SMTP_SINK_BIN.exists():
        yield None
        return
    port = free_port()
    argv = [str(SMTP_SINK_BIN), f"127.0.0.1:{port}", "256"]
    if os.geteuid() == 0:  # it refuses to run as root without a user to switch to
        argv[1:1] = ["-u", "nobody"]
    libraries = SMTP_SINK_BIN.parents[1] / "lib" / "postfix"
    server = subprocess.Popen(
        argv,
        env={**os.environ, "LD_LIBRARY_PATH": str(libraries)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _accepts(port), 10, "postfix's smtp-sink listening")
        yield port
    finally:
        server.terminate()
        server.wait(timeout=10)


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def c_server_phase(
    kafka: KafkaSettings, database: str, sinks: Sinks, logs: Path, count: int, reference: int
) -> dict[str, float] | None:
    """The raw reference and dispatch's email rate against postfix's smtp-sink."""
    with c_smtp_server() as port:
        if port is None:
            say(f"{SMTP_SINK_BIN} missing (make bench-tools): the C SMTP server run is skipped")
            return None
        say(f"C SMTP server: {reference:,} raw sends, then {count:,} emails through dispatch")
        raw = asyncio.run(raw_smtp(port, reference))
        shop, log = BulkShop(kafka.bootstrap_servers), MessageLog(database)
        process = DispatchProcess(
            kafka.bootstrap_servers,
            database,
            sinks,
            logs / "dispatch-c-smtp.log",
            group_id=f"bench-dispatch-c-{uuid.uuid4().hex[:8]}",
            poll_interval_s="0.2",
            email_per_s="20000",
        )
        process.env["NUDGE_SMTP_PORT"] = str(port)
        try:
            process.start()
            customers = shop.customers(count, time_zone=daytime_zone(margin_h=1))
            wait_until(lambda: log.contacts(shop.id) == count, 300, "contacts")
            process.stop()
            shop.triggers(customers)
            process.start()
            wait_until(
                lambda: log.states(shop.id).get("sent", 0) >= count,
                600,
                f"{count} emails sent",
                interval=POLL_S,
            )
        finally:
            process.stop()
            shop.close()
        sent, seconds = log.sent_span(shop.id)
        rate = Rate(max(0, sent - 1), seconds)
        say(f"C SMTP server: dispatch {rate.per_s:,.0f}/s, raw {raw.per_s:,.0f}/s")
        return {"dispatch_per_s": rate.per_s, "raw_per_s": raw.per_s, "messages": sent}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--emails", type=int, default=20_000)
    parser.add_argument("--sms", type=int, default=20_000)
    parser.add_argument("--reference", type=int, default=10_000, help="raw sends per channel")
    parser.add_argument("--latency-rate", type=float, default=50.0, help="triggers per second")
    parser.add_argument("--latency-triggers", type=int, default=1_500)
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per phase")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="dispatch processes in one consumer group, sharing the message log",
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="one more process for intake alone; the --processes ones only send "
        "(NUDGE_DISPATCH_ROLES)",
    )
    return parser.parse_args(argv)


def render(results: dict[str, Any]) -> str:
    ref, runs, lat = results["reference"], results["dispatch"], results["latency"]
    lines = [
        f"machine: {results['machine']['cores']} cores, {results['machine']['cpu_model']}; "
        f"{results['options']['processes']} dispatch process(es) in one group"
        + (" sending, and one for intake" if results["options"]["split"] else "")
        + ", sharing the cores with the sinks, PostgreSQL and Kafka",
        "",
        f"{'':28}{'dispatch/s':>12}{'floor/s':>10}{'raw/s':>10}{'ratio':>8}{'target':>9}",
    ]
    for run in runs:
        raw, floor = ref[run["channel"]], results["floor"][run["channel"]]["per_s"]
        target = EMAIL_TARGET_PER_S if run["channel"] == "email" else SMS_TARGET_PER_S
        per_s = run["rate"]["messages"] / max(run["rate"]["seconds"], 1e-9)
        verdict = "met" if per_s >= target else "MISSED"
        lines.append(
            f"{run['channel'] + ' (' + format(run['messages'], ',') + ')':28}"
            f"{per_s:>12,.0f}{floor:>10,.0f}{raw:>10,.0f}{per_s / raw:>8.2f}{target:>7,} {verdict}"
        )
    lines += [
        "",
        "floor: only the steps every dispatch must take (Kafka in, PostgreSQL row before and "
        "after the send, the send, status out), batched (tests/bench/dispatch_floor.py); "
        + ", ".join(
            f"{channel} {floor['cpu_us_per_message']:,.0f} us CPU per message"
            for channel, floor in results["floor"].items()
        ),
        "",
    ]
    for run in runs:
        lines.append(
            f"{run['channel']}: {run['wall_s']:.1f}s from dispatch start to all sent; "
            f"dispatch CPU {run['cpu_cores']:.2f} cores, {run['cpu_us_per_message']:,.0f} us per "
            f"message; resends absorbed {run['resends']}"
        )
    lines += [
        f"dispatch RSS (all processes): {results['rss_mib']:.0f} MiB now, "
        f"{results['peak_rss_mib']:.0f} MiB peak",
        "",
        f"trigger -> sink latency at {lat['rate_per_s']:.0f} triggers/s ({lat['messages']:,} "
        f"messages, 80% email): p50 {lat['p50_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms, "
        f"max {lat['max_ms']:.0f} ms",
    ]
    c_smtp = results.get("c_smtp")
    if c_smtp:
        c_verdict = "met" if c_smtp["dispatch_per_s"] >= EMAIL_TARGET_PER_S else "MISSED"
        lines += [
            "",
            f"email to postfix's smtp-sink (an SMTP server in C that keeps nothing, so no Python "
            f"sink on the same cores): dispatch {c_smtp['dispatch_per_s']:,.0f}/s "
            f"({c_smtp['messages']:,} emails, from dispatch's send records), raw aiosmtplib "
            f"{c_smtp['raw_per_s']:,.0f}/s; target {EMAIL_TARGET_PER_S:,}: {c_verdict}",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    opts = parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    kafka = KafkaSettings()
    create_topics(kafka)
    database = private_database(DatabaseSettings().url.get_secret_value(), "nudge_bench")
    log = MessageLog(database)
    logs = Path(tempfile.mkdtemp(prefix="nudge-bench-dispatch-"))
    sinks = Sinks(logs)
    sinks.start()
    dispatch: Fleet | None = None
    shop = BulkShop(kafka.bootstrap_servers)
    results: dict[str, Any] = {"machine": asdict(machine()), "options": vars(opts)}
    try:
        say(f"reference: {opts.reference:,} raw SMTP sends and {opts.reference:,} raw SMS posts")
        smtp_ref = asyncio.run(raw_smtp(sinks.smtp_port, opts.reference))
        sms_ref = asyncio.run(raw_sms(sinks.sms_url, opts.reference))
        say(f"floor: {opts.reference:,} emails and SMS through the mandatory steps only")
        floor = {
            channel: asyncio.run(
                floor_rate(
                    channel, kafka=kafka, database_url=database, count=opts.reference, sinks=sinks
                )
            )
            for channel in ("email", "sms")
        }
        httpx.delete(f"{sinks.smtp_url}/messages").raise_for_status()
        httpx.delete(f"{sinks.sms_url}/messages").raise_for_status()
        group = f"bench-dispatch-{uuid.uuid4().hex[:8]}"
        roles = ["intake,send"] * opts.processes
        if opts.split:
            roles = ["send"] * opts.processes + ["intake"]
        dispatch = Fleet(
            [
                DispatchProcess(
                    kafka.bootstrap_servers,
                    database,
                    sinks,
                    logs / f"dispatch-{n}.log",
                    group_id=group,
                    roles=role,
                    poll_interval_s="0.2",  # the production default (the test helper uses 0.1)
                    email_per_s=str(20_000 // opts.processes),  # each admits its share
                    sms_per_s=str(20_000 // opts.processes),
                )
                for n, role in enumerate(roles)
            ]
        )
        dispatch.start()
        zone = daytime_zone(margin_h=1)
        say("customers")
        email_customers = shop.customers(opts.emails, time_zone=zone)
        sms_customers = shop.customers(opts.sms, sms_every=1, time_zone=zone)
        latency_customers = shop.customers(opts.latency_triggers, sms_every=5, time_zone=zone)
        total = opts.emails + opts.sms + opts.latency_triggers
        wait_until(lambda: log.contacts(shop.id) == total, opts.timeout, "contacts")
        email = throughput("email", dispatch, shop, email_customers, log, sinks, 0, opts.timeout)
        sms = throughput(
            "sms", dispatch, shop, sms_customers, log, sinks, opts.emails, opts.timeout
        )
        late = latency(
            dispatch,
            shop,
            latency_customers,
            log,
            sinks,
            opts.latency_rate,
            opts.emails + opts.sms,
        )
        pids = dispatch.pids()
        results |= {
            "reference": {"email": smtp_ref.per_s, "sms": sms_ref.per_s},
            "floor": {
                channel: {"per_s": per_s, "cpu_us_per_message": cpu_us}
                for channel, (per_s, cpu_us) in floor.items()
            },
            "dispatch": [phase_json(email), phase_json(sms)],
            "latency": asdict(late),
            "rss_mib": sum(rss_mib(pid) for pid in pids),
            "peak_rss_mib": sum(peak_rss_mib(pid) for pid in pids),
        }
        dispatch.stop()  # its cores for the next run
        if not opts.split:  # one process against the C server; the same with --split
            results["c_smtp"] = c_server_phase(
                kafka, database, sinks, logs, opts.emails, opts.reference
            )
    finally:
        if dispatch is not None:
            dispatch.stop()
        sinks.stop()
        shop.close()
    print(render(results))
    figures = OUT / ("dispatch-split.json" if opts.split else "dispatch.json")
    figures.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"\n(figures also in {figures.relative_to(ROOT)}; logs in {logs})")


if __name__ == "__main__":
    main()
