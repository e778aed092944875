"""`make bench`: the feedback service's HTTP rates, next to a floor app in the same run.

Scenarios, each at a constant rate (vegeta's open model: it sends on schedule whatever the
latency, so the percentiles are free of coordinated omission), warmed up, then measured:

- inbound SMS: `POST /sms/inbound` as Twilio posts it (every parameter it sends, signed over
  the service's public URL), each from another contact's number with a sid of its own. The
  texts are what a marketing text's replies look like: six STOP, three plain replies, one
  START in every ten (tests/bench/targets.py, SMS_MIX). Each finds its contact and the last
  text sent to it in the directory and becomes one record on feedback.events.v1;
- one-click: `POST /u/<token>` with `List-Unsubscribe=One-Click`, each to another contact's
  link (a repeat changes nothing), looked up for its held consent, one record each;
- the floor: tests/bench/feedback_floor.py, a bare ASGI app under the same uvicorn protocol,
  on the same two scenarios: the signature or token check, the same record, the same
  publisher, nothing else. The service's CPU per request over the floor's is what its
  lookups, rules, validation and framework cost.

The directory is seeded by writing it directly, through the service's own PostgreSQL adapter
(the statements its index runs): a contact with a phone, an address and consent on both
channels, and one text sent to it, per contact, the same rows on every run (a run re-grants
the consent its predecessor withdrew). Producing customer events instead would measure the
index, not the routes, and the service starts its index at the topics' end (a new group, as
the local stack starts it) so it would have to run while we wait; the sent texts would need
dispatch's `message.sent` records too. The index does run during the measurement, learning
the consent changes the service publishes, as it does in production: its CPU is in the
service's figures.

The service runs as `nudge feedback` runs in the local stack: its own process, link keys
only (fresh ones per run; no master key), the main database (DATABASE_URL), its public URL
its own address so that Twilio's signatures match. Figures: requests/s sent and answered 2xx,
the 2xx share, latency p50 / p90 / p99, CPU per request of the service's process (from /proc,
warm-up excluded; not shown for a scenario the process did not keep up with, under 99% 2xx,
where it would count work on requests that timed out), peak RSS. A table on stdout, the same
in .local/bench/feedback.json; nothing asserts a timing. Needs the local broker and PostgreSQL
(`deploy/local/run.sh infra`, or KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL); `--help` lists
the knobs.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import orjson
from pydantic import SecretStr

from services.feedback.directory import (
    ConsentFact,
    ContactFacts,
    ContactRef,
    Directory,
    SentMessage,
)
from services.feedback.directory.postgres import PostgresDirectory
from shared.db.engine import make_engine
from shared.events.shop import Channel
from shared.keyring import LinkKeys, MasterKeyRing
from shared.settings import DatabaseSettings, KafkaSettings
from shared.topics import FEEDBACK_EVENTS
from tests.bench.ingest import machine
from tests.bench.report import Machine, Memory
from tests.bench.scenario import Load, Outcome, run_scenario
from tests.bench.service import (
    FEEDBACK_TWILIO_TOKEN,
    Ingest,
    broker_pid,
    peak_rss_mib,
    rss_mib,
    running_feedback,
    running_feedback_floor,
)
from tests.bench.targets import (
    FEEDBACK_SHOP,
    Counter,
    feedback_customer,
    feedback_phone,
    inbound_sms,
    message_sid,
    one_clicks,
    write_targets,
)

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / ".local" / "bench"
REQUEST_TIMEOUT_S = 15.0
"""Twilio gives a webhook 15 seconds before it counts it failed."""
SEED_CHUNK = 1000
"""Contacts written per transaction while seeding."""
SENT_AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
"""When the seeded texts were sent (fixed: a run records the same messages again)."""
KEPT_UP = 0.99
"""The 2xx share below which a scenario is past the process's capacity: its CPU per request
then includes work on requests the client gave up on, and its latencies are queueing."""


@dataclass(frozen=True)
class Options:
    rate: int
    seconds: float
    warmup_s: float
    contacts: int


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=500, help="requests per second")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured time per scenario")
    parser.add_argument("--warmup-s", type=float, default=3.0, help="warm-up per scenario")
    parser.add_argument(
        "--contacts",
        type=int,
        default=20_000,
        help="contacts seeded (raised to one per request of a scenario when fewer)",
    )
    return Options(**vars(parser.parse_args(argv)))


def say(message: str) -> None:
    """Progress on stderr, so stdout holds only the results table."""
    print(f"==> {message}", file=sys.stderr, flush=True)


# --- the directory's contents ---------------------------------------------------------------


def bench_contact(contact: int, now: datetime) -> tuple[ContactFacts, SentMessage]:
    """Contact number `contact`: phone, address, consent on both channels given `now`, and the
    text last sent to it (what an inbound reply answers)."""
    ref = ContactRef(FEEDBACK_SHOP, feedback_customer(contact))
    granted = ConsentFact(True, now)
    facts = ContactFacts(
        ref,
        email=f"{ref.customer_id}@{FEEDBACK_SHOP}.example.com",
        phone=feedback_phone(contact),
        email_consent=granted,
        sms_consent=granted,
    )
    sent = SentMessage(
        message_id=f"{FEEDBACK_SHOP}-sms-{contact:07d}",
        ref=ref,
        channel=Channel.SMS,
        trigger_id=f"{FEEDBACK_SHOP}-trigger-{contact:07d}",
        campaign_id="abandoned_cart",
        transactional=False,
        provider_id=message_sid("00000000", contact),
        sent_at=SENT_AT,
    )
    return facts, sent


async def seed_directory(directory: Directory, contacts: int, now: datetime) -> None:
    """Write contacts 0..`contacts`-1 and their texts, a chunk per transaction."""
    for first in range(0, contacts, SEED_CHUNK):
        rows = [bench_contact(n, now) for n in range(first, min(first + SEED_CHUNK, contacts))]
        await directory.record([facts for facts, _ in rows], [sent for _, sent in rows])


def seed(database_url: str, contacts: int) -> None:
    async def run() -> None:
        engine = make_engine(DatabaseSettings(url=SecretStr(database_url)))
        try:
            await seed_directory(PostgresDirectory(engine), contacts, datetime.now(UTC))
        finally:
            await engine.dispose()

    asyncio.run(run())


# --- scenarios ------------------------------------------------------------------------------


def answered(code: int, _body: Any) -> int:
    """Records a 2xx stands for: one (each text concerns one seeded contact, each one-click
    one link), so the topic's growth checks that every 2xx was on the broker."""
    return 1 if 200 <= code < 300 else 0


@dataclass(frozen=True)
class Served:
    """One process's figures on both scenarios."""

    role: str
    sms: Outcome
    one_click: Outcome
    memory: Memory

    def scenarios(self) -> list[tuple[str, Outcome]]:
        return [("inbound SMS", self.sms), ("one-click", self.one_click)]

    def as_json(self) -> dict[str, Any]:
        return {
            "inbound_sms": outcome_json(self.sms, self.role),
            "one_click": outcome_json(self.one_click, self.role),
            "memory": asdict(self.memory),
        }


def kept_up(outcome: Outcome) -> bool:
    return outcome.measured.success >= KEPT_UP


def cpu_per_request(outcome: Outcome, role: str) -> float | None:
    """CPU microseconds per 2xx request, when the process kept up (None otherwise)."""
    return outcome.cpu_us_per_event(role) if kept_up(outcome) else None


def outcome_json(outcome: Outcome, role: str) -> dict[str, Any]:
    return {
        "kept_up": kept_up(outcome),
        "measured": asdict(outcome.measured),
        "warmup": asdict(outcome.warmup),
        "answered_2xx": outcome.acknowledged_events,
        "measured_2xx": outcome.measured_events,
        "topic_growth": outcome.topic_growth,
        "cpu_cores": outcome.cpu_share,
        "cpu_us_per_request": outcome.cpu_us_per_event(role),
        "cpu_us_per_request_note": "CPU over the 2xx answers; past capacity it includes the "
        "work on requests that timed out",
    }


def run_both(
    served: Ingest,
    role: str,
    *,
    load: Load,
    link_keys: LinkKeys,
    contacts: int,
    run_id: str,
    kafka: str,
    broker: int | None,
) -> Served:
    """Inbound SMS, then one-click, against `served`; its memory after both."""
    texts_from, clicks_from = Counter.starting_at(run_id, 0), Counter.starting_at(run_id, 0)
    sms_url = f"{served.url}/sms/inbound"

    def texts(path: Path, n: int) -> int:
        lines = inbound_sms(sms_url, FEEDBACK_TWILIO_TOKEN, texts_from, n, contacts)
        return write_targets(path, lines)

    def clicks(path: Path, n: int) -> int:
        return write_targets(path, one_clicks(served.url, link_keys, clicks_from, n, contacts))

    with tempfile.TemporaryDirectory(dir=OUT, prefix="work-") as tmp:
        scenario = partial(
            run_scenario,
            served,
            load=load,
            workdir=Path(tmp),
            kafka=kafka,
            broker=broker,
            topic=FEEDBACK_EVENTS.name,
            role=role,
            count_answer=answered,
        )
        say(f"{role}: inbound SMS, {load.rate:,}/s")
        sms = scenario(texts, name=f"{role}-sms")
        say(f"{role}: one-click unsubscribes, {load.rate:,}/s")
        one_click = scenario(clicks, name=f"{role}-one-click")
    return Served(role, sms, one_click, Memory(peak_rss_mib(served.pid), rss_mib(served.pid)))


@dataclass(frozen=True)
class Results:
    machine: Machine
    options: Options
    contacts: int
    feedback: Served
    floor: Served

    def cpu_ratio(self, pick: str) -> float | None:
        """The service's CPU per request over the floor's, for "sms" or "one_click", when
        both kept up."""
        ours = cpu_per_request(getattr(self.feedback, pick), "feedback")
        least = cpu_per_request(getattr(self.floor, pick), "floor")
        return ours / least if ours and least else None

    def as_json(self) -> dict[str, Any]:
        return {
            "machine": asdict(self.machine),
            "options": asdict(self.options),
            "contacts": self.contacts,
            "feedback": self.feedback.as_json(),
            "floor": self.floor.as_json(),
            "cpu_over_floor": {
                "inbound_sms": self.cpu_ratio("sms"),
                "one_click": self.cpu_ratio("one_click"),
            },
        }


def measure(opts: Options) -> Results:
    kafka = KafkaSettings().bootstrap_servers
    database_url = DatabaseSettings().url.get_secret_value()
    OUT.mkdir(parents=True, exist_ok=True)
    warmup = round(opts.rate * opts.warmup_s)
    load = Load(opts.rate, None, warmup, opts.seconds, REQUEST_TIMEOUT_S)
    contacts = max(opts.contacts, warmup + round(opts.rate * opts.seconds))
    say(f"seeding the directory: {contacts:,} contacts of {FEEDBACK_SHOP}, a text sent to each")
    seed(database_url, contacts)
    link_keys = MasterKeyRing.single(SecretStr(secrets.token_urlsafe(48)), "bench").link_keys()
    run = partial(
        run_both,
        load=load,
        link_keys=link_keys,
        contacts=contacts,
        run_id=uuid.uuid4().hex[:8],
        kafka=kafka,
        broker=broker_pid(),
    )
    with running_feedback(kafka, database_url, OUT / "feedback.log", link_keys) as feedback:
        service = run(feedback, "feedback")
    say("floor: bare ASGI app, signature check and publishing only")
    with running_feedback_floor(kafka, OUT / "feedback-floor.log", link_keys) as bare:
        floor = run(bare, "floor")
    return Results(machine(), opts, contacts, service, floor)


# --- the table ------------------------------------------------------------------------------


def _row(label: str, role: str, outcome: Outcome) -> str:
    m = outcome.measured
    lat = m.latency_ms
    per_request = cpu_per_request(outcome, role)
    cpu = f"{per_request:>12,.0f}" if per_request is not None else f"{'-':>12}"
    return (
        f"  {label:<12}{role:<10}{m.rate:>8,.1f}{m.throughput:>8,.1f}{m.success:>9.2%}"
        f"{lat['p50']:>8.1f}{lat['p90']:>8.1f}{lat['p99']:>8.1f}{lat['max']:>8.1f}"
        f"{cpu}{outcome.cpu_share.get(role, 0.0):>7.2f}"
    )


def _ratio(r: Results, label: str, pick: str) -> list[str]:
    ratio = r.cpu_ratio(pick)
    if ratio is not None:
        return [f"  {'':<12}the service spends {ratio:.1f}x the floor's CPU per {label} request"]
    lines = []
    for served in (r.feedback, r.floor):
        outcome: Outcome = getattr(served, pick)
        if not kept_up(outcome):
            busy = outcome.cpu_share[served.role]
            lines += [
                f"  {'':<12}{served.role} did not keep up with {r.options.rate:,}/s: "
                f"{outcome.measured.throughput:,.0f}/s answered 2xx with {busy:.2f} cores busy,",
                f"  {'':<12}the rest timed out or were refused (no CPU per request: it would "
                "count work on them)",
            ]
    return lines


def _check(role: str, label: str, outcome: Outcome) -> str:
    grown, answered_2xx = outcome.topic_growth, outcome.acknowledged_events
    verdict = "ok" if grown == answered_2xx else "DIFFERENT (timed-out requests may still publish)"
    return (
        f"  {role} {label}: feedback.events.v1 grew by {grown:,} records, "
        f"{answered_2xx:,} answers were 2xx: {verdict}"
    )


def _errors(outcomes: Sequence[Outcome]) -> list[str]:
    errors = sorted({e for o in outcomes for e in (*o.warmup.errors, *o.measured.errors)})
    return [f"  error: {e}" for e in errors[:5]]


def render(r: Results) -> str:
    m, o = r.machine, r.options
    lines = [
        "",
        f"Nudge feedback benchmark: {m.cores} cores ({m.cpu_model}), {m.memory_gib:.0f} GiB, "
        f"Python {m.python}",
        "  vegeta (load), feedback (one process), PostgreSQL and the Kafka broker share these "
        "cores.",
        f"  {o.rate:,} requests/s, constant, per scenario: {o.warmup_s:g} s of warm-up, then "
        f"{o.seconds:g} s measured; {r.contacts:,} contacts in the directory.",
        "",
        f"  {'':<12}{'':<10}{'sent/s':>8}{'2xx/s':>8}{'2xx':>9}{'p50 ms':>8}{'p90 ms':>8}"
        f"{'p99 ms':>8}{'max ms':>8}{'CPU us/req':>12}{'cores':>7}",
    ]
    for label, pick in (("inbound SMS", "sms"), ("one-click", "one_click")):
        lines.append(_row(label, "feedback", getattr(r.feedback, pick)))
        lines.append(_row("", "floor", getattr(r.floor, pick)))
        lines += _ratio(r, label, pick)
    lines += ["", "Checks"]
    for served in (r.feedback, r.floor):
        lines += [_check(served.role, label, outcome) for label, outcome in served.scenarios()]
    lines += _errors([o for s in (r.feedback, r.floor) for _, o in s.scenarios()])
    lines += [
        "",
        f"Memory  peak RSS (VmHWM): feedback {r.feedback.memory.peak_rss_mib:,.0f} MiB "
        f"(at the end {r.feedback.memory.final_rss_mib:,.0f}), floor "
        f"{r.floor.memory.peak_rss_mib:,.0f} MiB",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    results = measure(parse_args(argv))
    print(render(results))
    (OUT / "feedback.json").write_bytes(
        orjson.dumps(results.as_json(), option=orjson.OPT_INDENT_2) + b"\n"
    )
    print(f"\n(figures also in {(OUT / 'feedback.json').relative_to(ROOT)})")


if __name__ == "__main__":
    main()
