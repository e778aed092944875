"""`python -m tests.bench.dispatch`: dispatch against providers as production sees them, then
its CPU per message with providers that answer at once.

Needs the local broker and PostgreSQL (`deploy/local/run.sh infra`; KAFKA_BOOTSTRAP_SERVERS and
DATABASE_URL override them). Runs in a database of its own (`nudge_bench`, next to
DATABASE_URL's, created and migrated here), so that no other dispatch shares its message log.

1. Production-like (reported first, with a target). A real provider is far away and caps
   concurrency: the SMS sink answers each request `--sms-delay-ms` later (80) and refuses
   requests past `--concurrency` in flight (100, Twilio's limit) with 429/20429; the SMTP sink
   adds `--smtp-latency-ms` (40) to every round trip. The most any client can send is then
   concurrency / latency for SMS, and pool size / (round trips per message x latency) for
   email. One dispatch process, given as many Twilio connections as the limit allows, its
   rate limits above those maxima and enough sends in flight, must keep the allowed
   concurrency saturated: a rate of at least 90% of the maximum (PASS, else MISS), with no
   429. Its CPU per message comes from the process's CPU time. Beside it, raw references with
   kept clients (aiohttp, aiosmtplib) against the same slow sinks.
2. CPU figures (no targets): the sinks answer at once, so the rate is bounded by CPU. Raw
   references (aiohttp POSTs to the SMS sink, aiosmtplib sends to the SMTP sink), the floor
   (tests/bench/dispatch_floor.py: only the steps every dispatch must take, batched), then
   dispatch: triggers produced while it is stopped, worked through after it starts (Kafka
   intake, PostgreSQL claim / decide / record / settle, render, send); rate between the sinks'
   first and last receive times; CPU per message. Then trigger -> sink latency at a steady
   rate below capacity, and email to postfix's smtp-sink (C; accepts and discards; unpacked
   by `make bench-tools`), which takes the Python sink's CPU off the cores.

`--split` runs the CPU figures with intake in a process of its own beside the `--processes`
sending ones (NUDGE_DISPATCH_ROLES); the production-like regime always runs one process.
`make bench` runs both configurations.

Figures go to stdout and .local/bench/dispatch.json (dispatch-split.json); progress to stderr.
Nothing asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import math
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

import aiohttp
import aiosmtplib
import httpx
import orjson

from deploy.local.sinks.sms_sink import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN
from services.dispatch.providers.email import EmailSettings, build_email
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
IN_FLIGHT = 64
"""NUDGE_DISPATCH_IN_FLIGHT's default: requests the SMS reference keeps in progress."""
SATURATED = 0.9
"""The production-like target: this share of the provider's theoretical maximum rate."""
POLL_S = 1.0
"""How often a run asks the message log whether it is done: each look is a new connection and
a count over the shop's rows (17 ms of PostgreSQL's time by the end of a run), on the cores
dispatch is measured on; the rates come from the sinks' times, not from these looks."""
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


async def raw_smtp(port: int, count: int, pool: int = SMTP_POOL) -> Rate:
    """aiosmtplib's `sendmail` over `pool` connections (one command at a time: it does not
    pipeline)."""
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
    await asyncio.gather(*(connection() for _ in range(pool)))
    return Rate(count, time.perf_counter() - started)


async def raw_sms(
    base_url: str, count: int, connections: int = SMS_CONNECTIONS, in_flight: int = IN_FLIGHT
) -> Rate:
    """Form POSTs to the Messages API over aiohttp's client, `connections` keep-alive
    connections, `in_flight` requests in progress."""
    path = f"{base_url}/2010-04-01/Accounts/{DEFAULT_ACCOUNT_SID}/Messages.json"
    auth = aiohttp.encode_basic_auth(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN)
    gate = asyncio.Semaphore(in_flight)
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers={"Authorization": auth}
    ) as client:

        async def one(i: int) -> None:
            async with gate:
                form = {"To": f"+14152{i:06d}", "From": "+15005550006", "Body": SMS_BODY}
                headers = {"Idempotency-Key": str(uuid.uuid4())}
                async with client.post(path, data=form, headers=headers) as answer:
                    await answer.read()
                    if answer.status != 201:
                        raise RuntimeError(f"the SMS sink answered {answer.status}")

        started = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(count)))
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


# --- production-like: latency and the provider's concurrency limit ------------------------


def smtp_round_trips() -> int:
    """Round trips per email on an open connection: 2 when dispatch pipelines MAIL, RCPT and
    DATA (RFC 2920) and the sink offers it, else 4 (MAIL, RCPT, DATA, the content)."""
    pipelining = EmailSettings.model_fields.get("pipelining")
    return 2 if pipelining is not None and pipelining.default else 4


@dataclass(frozen=True)
class Saturation:
    """One channel's production-like run against its theoretical maximum."""

    channel: str
    messages: int
    rate: Rate
    """Between the sink's first and last receive times."""
    ceiling_per_s: float
    """The most any client can send: allowed concurrency / time per message at the sink."""
    ceiling: str
    """How the ceiling was worked out, for the report."""
    wall_s: float
    cpu_s: float
    """Dispatch's CPU seconds from ready until all were sent."""
    too_many_requests: int
    resends: int
    sink_cpu_s: float
    """The sink's CPU seconds over the same time: it shares the cores with dispatch."""
    raw_per_s: float
    """A raw client's rate against the same sink (kept library, no bookkeeping)."""

    @property
    def share(self) -> float:
        return self.rate.per_s / self.ceiling_per_s

    @property
    def cpu_us_per_message(self) -> float:
        return self.cpu_s / self.messages * 1e6


def saturation_json(run: Saturation) -> dict[str, Any]:
    return {
        **asdict(run),
        "per_s": run.rate.per_s,
        "share": run.share,
        "passed": run.share >= SATURATED,
        "cpu_us_per_message": run.cpu_us_per_message,
        "sink_cpu_us_per_message": run.sink_cpu_s / run.messages * 1e6,
    }


def production_like(
    opts: argparse.Namespace, kafka: KafkaSettings, database: str, sinks: Sinks, logs: Path
) -> dict[str, Any]:
    """The sinks slowed down and capped as a real provider is; one dispatch process sized to
    the provider's limits; raw references with kept clients against the same sinks."""
    concurrency, delay_s = opts.concurrency, opts.sms_delay_ms / 1000
    pool, latency_s, trips = opts.smtp_pool, opts.smtp_latency_ms / 1000, opts.smtp_round_trips
    sms_ceiling, email_ceiling = concurrency / delay_s, pool / (trips * latency_s)
    sinks.control_sms(delay_ms=opts.sms_delay_ms, max_concurrency=concurrency)
    sinks.control_smtp(latency_ms=opts.smtp_latency_ms)
    shop, log = BulkShop(kafka.bootstrap_servers), MessageLog(database)
    in_flight = opts.in_flight or min(1000, 2 * max(concurrency, pool))
    process = DispatchProcess(
        kafka.bootstrap_servers,
        database,
        sinks,
        logs / "dispatch-production.log",
        group_id=f"bench-dispatch-prod-{uuid.uuid4().hex[:8]}",
        poll_interval_s="0.2",
        sms_per_s=str(math.ceil(2 * sms_ceiling)),
        email_per_s=str(math.ceil(2 * email_ceiling)),
        in_flight=str(in_flight),
    )
    process.env["NUDGE_TWILIO_MAX_CONNECTIONS"] = str(concurrency)
    process.env["NUDGE_SMTP_POOL_SIZE"] = str(pool)
    process.env.update(opts.set)
    fleet = Fleet([process])
    try:
        say(
            f"production-like: SMS answered {opts.sms_delay_ms} ms later, at most "
            f"{concurrency} in flight; SMTP {opts.smtp_latency_ms} ms per round trip"
        )
        raw_sms_rate = asyncio.run(
            raw_sms(sinks.sms_url, opts.prod_reference, concurrency, concurrency)
        )
        raw_smtp_rate = asyncio.run(raw_smtp(sinks.smtp_port, opts.prod_reference // 5, pool))
        refused_raw = int(sinks.texts()["too_many_requests"])
        say(f"raw: {raw_sms_rate.per_s:,.0f} SMS/s, {raw_smtp_rate.per_s:,.0f} emails/s")
        _reset(sinks)
        fleet.start()
        zone = daytime_zone(margin_h=1)
        email_customers = shop.customers(opts.prod_emails, time_zone=zone)
        sms_customers = shop.customers(opts.prod_sms, sms_every=1, time_zone=zone)
        total = opts.prod_emails + opts.prod_sms
        wait_until(lambda: log.contacts(shop.id) == total, opts.timeout, "contacts")
        runs = []
        sink_pids = sinks.pids()
        raw_rates = {"email": raw_smtp_rate.per_s, "sms": raw_sms_rate.per_s}
        for channel, customers, ceiling, how, before in (
            (
                "email",
                email_customers,
                email_ceiling,
                f"{pool} connections / ({trips} round trips x {opts.smtp_latency_ms} ms)",
                0,
            ),
            (
                "sms",
                sms_customers,
                sms_ceiling,
                f"{concurrency} requests in flight / {opts.sms_delay_ms} ms",
                opts.prod_emails,
            ),
        ):
            if not customers:
                continue
            sink_pid = sink_pids["smtp" if channel == "email" else "sms"]
            sink_cpu = cpu_seconds(sink_pid)
            phase = throughput(channel, fleet, shop, customers, log, sinks, before, opts.timeout)
            sink_cpu = cpu_seconds(sink_pid) - sink_cpu
            refused = int(sinks.texts()["too_many_requests"])
            run = Saturation(
                channel,
                phase.messages,
                phase.rate,
                ceiling,
                how,
                phase.wall_s,
                phase.cpu_cores * phase.wall_s,
                refused,
                phase.resends,
                sink_cpu,
                raw_rates[channel],
            )
            say(f"{channel}: {run.rate.per_s:,.0f}/s of {ceiling:,.0f}/s ({run.share:.0%})")
            runs.append(saturation_json(run))
            _reset(sinks)
    finally:
        fleet.stop()
        shop.close()
        sinks.control_sms(delay_ms=0, max_concurrency=None)
        sinks.control_smtp(latency_ms=0)
    return {
        "settings": {
            "sms_delay_ms": opts.sms_delay_ms,
            "concurrency": concurrency,
            "smtp_latency_ms": opts.smtp_latency_ms,
            "smtp_pool": pool,
            "smtp_round_trips": trips,
            "in_flight": in_flight,
            "other": dict(opts.set),
        },
        "runs": runs,
        "raw": {
            "sms_per_s": raw_sms_rate.per_s,
            "sms_too_many_requests": refused_raw,
            "email_per_s": raw_smtp_rate.per_s,
            "email_ceiling_per_s": pool / (4 * latency_s),
        },
    }


def _reset(sinks: Sinks) -> None:
    httpx.delete(f"{sinks.smtp_url}/messages", timeout=30).raise_for_status()
    httpx.delete(f"{sinks.sms_url}/messages", timeout=30).raise_for_status()


def _setting(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not name.startswith("NUDGE_") or not equals:
        raise argparse.ArgumentTypeError("NUDGE_<NAME>=<value>")
    return name, value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    production = parser.add_argument_group("production-like regime")
    production.add_argument("--prod-emails", type=int, default=3_000)
    production.add_argument("--prod-sms", type=int, default=3_000)
    production.add_argument(
        "--prod-reference", type=int, default=3_000, help="raw SMS posts (a fifth as emails)"
    )
    production.add_argument("--sms-delay-ms", type=int, default=80)
    production.add_argument(
        "--concurrency", type=int, default=100, help="the SMS provider's concurrency limit"
    )
    production.add_argument("--smtp-latency-ms", type=int, default=40)
    production.add_argument("--smtp-pool", type=int, default=SMTP_POOL, help="SMTP connections")
    production.add_argument(
        "--smtp-round-trips",
        type=int,
        default=smtp_round_trips(),
        help="per email, for the ceiling (default: 2 if dispatch pipelines, else 4)",
    )
    production.add_argument(
        "--in-flight",
        type=int,
        default=0,
        help="NUDGE_DISPATCH_IN_FLIGHT (default: twice the larger of the two limits)",
    )
    production.add_argument(
        "--set",
        type=_setting,
        action="append",
        default=[],
        metavar="NUDGE_...=VALUE",
        help="another setting for that dispatch process (repeatable), to try a configuration",
    )
    production.add_argument("--skip-production", action="store_true")
    cpu = parser.add_argument_group("CPU figures (providers answering at once)")
    cpu.add_argument("--emails", type=int, default=20_000)
    cpu.add_argument("--sms", type=int, default=20_000)
    cpu.add_argument("--reference", type=int, default=10_000, help="raw sends per channel")
    cpu.add_argument("--latency-rate", type=float, default=50.0, help="triggers per second")
    cpu.add_argument("--latency-triggers", type=int, default=1_500)
    cpu.add_argument("--skip-cpu", action="store_true")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per phase")
    parser.add_argument(
        "--processes",
        type=int,
        default=1,
        help="dispatch processes in one consumer group for the CPU figures",
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="one more process for intake alone; the --processes ones only send "
        "(NUDGE_DISPATCH_ROLES)",
    )
    return parser.parse_args(argv)


def render_production(prod: dict[str, Any]) -> list[str]:
    settings = prod["settings"]
    lines = [
        "PRODUCTION-LIKE: one dispatch process; the SMS sink answers "
        f"{settings['sms_delay_ms']} ms later and refuses past {settings['concurrency']} "
        f"requests in flight (429/20429); the SMTP sink adds {settings['smtp_latency_ms']} ms "
        f"per round trip; NUDGE_TWILIO_MAX_CONNECTIONS={settings['concurrency']}, "
        f"NUDGE_SMTP_POOL_SIZE={settings['smtp_pool']}, "
        f"NUDGE_DISPATCH_IN_FLIGHT={settings['in_flight']}"
        + "".join(f", {name}={value}" for name, value in settings.get("other", {}).items()),
        "",
        f"{'':22}{'rate/s':>9}{'max/s':>9}{'share':>8}{'':>6}{'raw/s':>8}{'us CPU/msg':>12}"
        f"{'sink us':>9}{'429s':>7}{'resends':>9}  max from",
    ]
    for run in prod["runs"]:
        verdict = "PASS" if run["passed"] else "MISS"
        lines.append(
            f"{run['channel'] + ' (' + format(run['messages'], ',') + ')':22}"
            f"{run['per_s']:>9,.0f}{run['ceiling_per_s']:>9,.0f}{run['share']:>8.0%}"
            f"{verdict:>6}{run['raw_per_s']:>8,.0f}{run['cpu_us_per_message']:>12,.0f}"
            f"{run['sink_cpu_us_per_message']:>9,.0f}{run['too_many_requests']:>7}"
            f"{run['resends']:>9}  {run['ceiling']}"
        )
    raw = prod["raw"]
    lines += [
        "",
        f"target: {SATURATED:.0%} of the maximum. us CPU/msg: dispatch's (process CPU time "
        "over the run, start to all sent); sink us: the sink's, on the same cores. raw/s: "
        f"against the same sinks, aiohttp ({raw['sms_too_many_requests']} refused 429) and "
        f"aiosmtplib (4 round trips per email, at most {raw['email_ceiling_per_s']:,.0f}/s)",
    ]
    return lines


def render(results: dict[str, Any]) -> str:
    lines = [
        f"machine: {results['machine']['cores']} cores, {results['machine']['cpu_model']}; "
        "dispatch shares the cores with the sinks, PostgreSQL and Kafka",
        "",
    ]
    if results.get("production"):
        lines += [*render_production(results["production"]), ""]
    if results.get("reference"):
        lines += render_cpu(results)
    return "\n".join(lines)


def render_cpu(results: dict[str, Any]) -> list[str]:
    ref, runs, lat = results["reference"], results["dispatch"], results["latency"]
    lines = [
        "CPU FIGURES (no targets): the sinks answer at once, so CPU bounds the rate; "
        f"{results['options']['processes']} dispatch process(es) in one group"
        + (" sending, and one for intake" if results["options"]["split"] else ""),
        "",
        f"{'':28}{'dispatch/s':>12}{'floor/s':>10}{'raw/s':>10}{'ratio':>8}{'us CPU/msg':>12}",
    ]
    for run in runs:
        raw = ref[run["channel"]]
        floor = results["floor"].get(run["channel"], {}).get("per_s", float("nan"))
        per_s = run["rate"]["messages"] / max(run["rate"]["seconds"], 1e-9)
        lines.append(
            f"{run['channel'] + ' (' + format(run['messages'], ',') + ')':28}"
            f"{per_s:>12,.0f}{floor:>10,.0f}{raw:>10,.0f}{per_s / raw:>8.2f}"
            f"{run['cpu_us_per_message']:>12,.0f}"
        )
    floors = results["floor"]
    lines += [
        "",
        "floor: only the steps every dispatch must take (Kafka in, PostgreSQL row before and "
        "after the send, the send, status out), batched (tests/bench/dispatch_floor.py); "
        + (
            ", ".join(
                f"{channel} {floor['cpu_us_per_message']:,.0f} us CPU per message"
                for channel, floor in floors.items()
                if "cpu_us_per_message" in floor
            )
            or "not run"
        )
        + "".join(
            f"; {channel} floor failed: {floor['error']}"
            for channel, floor in floors.items()
            if "error" in floor
        ),
        "",
    ]
    for run in runs:
        lines.append(
            f"{run['channel']}: {run['wall_s']:.1f}s from dispatch start to all sent; "
            f"dispatch CPU {run['cpu_cores']:.2f} cores; resends absorbed {run['resends']}"
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
        lines += [
            "",
            f"email to postfix's smtp-sink (an SMTP server in C that keeps nothing, so no Python "
            f"sink on the same cores): dispatch {c_smtp['dispatch_per_s']:,.0f}/s "
            f"({c_smtp['messages']:,} emails, from dispatch's send records), raw aiosmtplib "
            f"{c_smtp['raw_per_s']:,.0f}/s",
        ]
    return lines


def floors(
    opts: argparse.Namespace, kafka: KafkaSettings, database: str, sinks: Sinks
) -> dict[str, dict[str, Any]]:
    """The floor per channel; a channel whose client no longer fits the floor (dispatch's
    clients being rebuilt) is reported with its error instead of ending the run."""
    found: dict[str, dict[str, Any]] = {}
    for channel in ("email", "sms"):
        try:
            per_s, cpu_us = asyncio.run(
                floor_rate(
                    channel, kafka=kafka, database_url=database, count=opts.reference, sinks=sinks
                )
            )
        except Exception as exc:  # report it and go on: the floor is a reference
            say(f"floor {channel} failed: {exc!r}")
            found[channel] = {"error": f"{type(exc).__name__}: {exc}"}
        else:
            found[channel] = {"per_s": per_s, "cpu_us_per_message": cpu_us}
    return found


def cpu_figures(
    opts: argparse.Namespace, kafka: KafkaSettings, database: str, sinks: Sinks, logs: Path
) -> dict[str, Any]:
    log = MessageLog(database)
    shop = BulkShop(kafka.bootstrap_servers)
    dispatch: Fleet | None = None
    results: dict[str, Any] = {}
    try:
        say(f"reference: {opts.reference:,} raw SMTP sends and {opts.reference:,} raw SMS posts")
        smtp_ref = asyncio.run(raw_smtp(sinks.smtp_port, opts.reference))
        sms_ref = asyncio.run(raw_sms(sinks.sms_url, opts.reference))
        say(f"floor: {opts.reference:,} emails and SMS through the mandatory steps only")
        floor = floors(opts, kafka, database, sinks)
        _reset(sinks)
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
            "floor": floor,
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
        shop.close()
    return results


def main(argv: list[str] | None = None) -> None:
    opts = parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    kafka = KafkaSettings()
    create_topics(kafka)
    database = private_database(DatabaseSettings().url.get_secret_value(), "nudge_bench")
    logs = Path(tempfile.mkdtemp(prefix="nudge-bench-dispatch-"))
    sinks = Sinks(logs)
    sinks.start()
    results: dict[str, Any] = {"machine": asdict(machine()), "options": vars(opts)}
    try:
        if not opts.skip_production:
            results["production"] = production_like(opts, kafka, database, sinks, logs)
        if not opts.skip_cpu:
            results |= cpu_figures(opts, kafka, database, sinks, logs)
    finally:
        sinks.stop()
    print(render(results))
    figures = OUT / ("dispatch-split.json" if opts.split else "dispatch.json")
    figures.write_bytes(orjson.dumps(results, option=orjson.OPT_INDENT_2) + b"\n")
    print(f"\n(figures also in {figures.relative_to(ROOT)}; logs in {logs})")


if __name__ == "__main__":
    main()
