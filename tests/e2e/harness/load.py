"""The load: shops registered, then `nudge simulate` as a subprocess (the real CLI) with the
plan's seed, size, start and rate, and the inbox options when this simulator has them."""

from __future__ import annotations

import asyncio
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from services.simulator.command import Plan
from services.simulator.population import customer
from services.simulator.shops import register, write_credentials
from shared.credentials import SecretBox
from shared.db.engine import make_engine
from shared.settings import DatabaseSettings, SecretKeySettings
from shared.tenancy import ShopRegistry
from tests.e2e.harness.layout import ROOT, Layout
from tests.e2e.harness.services import NUDGE, SMS_AUTH_TOKEN, ServiceSpec, base_env, clock_env
from tests.e2e.harness.supervisor import child_env
from tests.e2e.model import ClockMap

INBOX_OPTIONS = ("--smtp-log", "--sms-log", "--feedback-url", "--replies-log", "--linger")


async def register_shops(layout: Layout, plan: Plan) -> None:
    """The plan's shops added to the fresh registry, their keys in the run's credentials
    file (the simulator then registers nothing and waits for no rotation)."""
    engine = make_engine(DatabaseSettings(url=SecretStr(layout.database_url)))
    try:
        ring = SecretKeySettings(
            secret_keys_file=None, secret_key=None, secret_key_file=layout.secret_key_file
        ).ring()
        registered = await register(ShopRegistry(engine, SecretBox(ring)), plan.shops, {})
    finally:
        await engine.dispose()
    write_credentials(layout.credentials_file, registered.keys.values())


def bouncing(plan: Plan) -> list[str]:
    """The addresses whose mail bounces (the SMTP sink refuses them at RCPT)."""
    try:
        from services.simulator.replies import bouncing_addresses
    except ImportError:
        return [
            person.email.lower()
            for person in (
                customer(plan.seed, plan.shop_ids, i, plan.mix) for i in range(plan.customers)
            )
            if person.bounces
        ]
    return bouncing_addresses(plan)


def has_inbox_options() -> bool:
    """Whether this `nudge simulate` answers what customers receive (helper S's options)."""
    done = subprocess.run(
        [NUDGE, "simulate", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    return all(option in done.stdout for option in INBOX_OPTIONS)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def simulate_argv(
    layout: Layout,
    plan: Plan,
    clock: ClockMap,
    *,
    rate: float,
    duplicate_rate: float,
    linger_s: float,
    inbox: bool,
) -> list[str]:
    argv = [
        NUDGE,
        "simulate",
        "--seed",
        str(plan.seed),
        "--customers",
        str(plan.customers),
        "--days",
        f"{plan.days:g}",
        "--time-scale",
        f"{clock.scale:g}",
        "--clock-origin",
        f"{clock.origin:.3f}",
        "--start",
        _iso(plan.start),
        "--rate",
        f"{rate:g}",
        "--ingest-url",
        f"http://127.0.0.1:{layout.ports.ingest}",
        "--shops",
        ",".join(f"{shop}={fmt.value}" for shop, fmt in plan.shops),
        "--credentials",
        str(layout.credentials_file),
        "--duplicate-rate",
        f"{duplicate_rate:g}",
        "--output",
        "json",
    ]
    if inbox:
        argv += [
            "--smtp-log",
            str(layout.smtp_log),
            "--sms-log",
            str(layout.sms_log),
            "--feedback-url",
            f"http://127.0.0.1:{layout.ports.feedback}",
            "--replies-log",
            str(layout.replies_log),
            "--twilio-auth-token",
            SMS_AUTH_TOKEN,
            "--linger",
            f"{linger_s:g}",
        ]
    return argv


async def start_simulator(
    layout: Layout, argv: list[str], clock: ClockMap
) -> tuple[asyncio.subprocess.Process, Path]:
    """The simulator running; its JSON summary goes to simulator.json in the run folder."""
    out = layout.run_dir / "simulator.json"
    spec = ServiceSpec("simulator", tuple(argv), {**base_env(layout), **clock_env(clock)})
    with out.open("wb") as stdout, (layout.logs_dir / "simulator.log").open("ab") as stderr:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            cwd=ROOT,
            env=child_env(spec),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    return proc, out
