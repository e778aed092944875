"""The stack's Kafka and PostgreSQL, through deploy/local's scripts with the e2e ports and
folders: fresh at each run (no earlier run's records or rows), restarted by the faults."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import time

from tests.e2e.harness.layout import ROOT, Layout
from tests.e2e.harness.services import NUDGE, base_env


def script_env(layout: Layout) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "NUDGE_KAFKA_PORT": str(layout.ports.kafka),
            "NUDGE_KAFKA_CONTROLLER_PORT": str(layout.ports.kafka_controller),
            "NUDGE_KAFKA_DIR": str(layout.kafka_dir),
            "NUDGE_PG_PORT": str(layout.ports.postgres),
            "NUDGE_PG_DIR": str(layout.postgres_dir),
        }
    )
    env.update(base_env(layout))
    return env


def _run(layout: Layout, *argv: str) -> str:
    done = subprocess.run(
        argv, cwd=ROOT, env=script_env(layout), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}{done.stderr}"
        )
    return done.stdout


def kafka(layout: Layout, command: str) -> None:
    _run(layout, str(ROOT / "deploy" / "local" / "kafka.sh"), command)


def postgres(layout: Layout, command: str) -> None:
    _run(layout, str(ROOT / "deploy" / "local" / "postgres.sh"), command)


def _secret_key(layout: Layout) -> None:
    if not layout.secret_key_file.exists():
        layout.secret_key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(layout.secret_key_file, os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
    keys = _run(layout, NUDGE, "keys", "derive", "links")
    fd = os.open(layout.link_keys_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(keys)


def up(layout: Layout) -> float:
    """A fresh broker and database (the previous run's data deleted), topics created, schema
    migrated, keys derived; returns the wall seconds it took."""
    started = time.monotonic()
    down(layout)
    shutil.rmtree(layout.kafka_dir, ignore_errors=True)
    shutil.rmtree(layout.postgres_dir / "data", ignore_errors=True)
    kafka(layout, "start")
    postgres(layout, "start")
    _secret_key(layout)
    _run(layout, NUDGE, "topics", "create")
    _run(layout, NUDGE, "db", "migrate")
    return time.monotonic() - started


def down(layout: Layout) -> None:
    for stop in (kafka, postgres):
        try:
            stop(layout, "stop")
        except RuntimeError as exc:
            print(f"e2e: {exc}")


async def restart_broker(layout: Layout) -> None:
    await asyncio.to_thread(kafka, layout, "stop")
    await asyncio.to_thread(kafka, layout, "start")


async def restart_postgres(layout: Layout) -> None:
    await asyncio.to_thread(postgres, layout, "stop")
    await asyncio.to_thread(postgres, layout, "start")
