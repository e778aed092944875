"""Where the tests get their real Kafka broker and PostgreSQL from.

In order: servers named by the environment (KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL), else
testcontainers when a Docker engine answers a ping, else the project's own local stack
(deploy/local), started here when it is not running yet.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The same port variables as deploy/local/kafka.sh and postgres.sh.
LOCAL_KAFKA = f"127.0.0.1:{os.environ.get('NUDGE_KAFKA_PORT', '19092')}"
TEST_DB_URL = (
    "postgresql+asyncpg://nudge:nudge@127.0.0.1:"
    f"{os.environ.get('NUDGE_PG_PORT', '15432')}/nudge_test"
)


@dataclass(frozen=True)
class Stack:
    kafka_bootstrap: str
    database_url: str
    origin: str


def docker_engine_reachable() -> bool:
    """Ping the daemon: the docker client alone (installed on many machines) is not enough."""
    try:
        import docker

        client = docker.from_env(timeout=2)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def run_script(script: str, *args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(
        ["bash", str(ROOT / "deploy" / "local" / script), *args],
        check=True,
        env={**os.environ, **(env or {})},
    )


@contextmanager
def provide_stack() -> Iterator[Stack]:
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database = os.environ.get("DATABASE_URL")
    if kafka and database:
        yield Stack(kafka, database, "environment")
        return
    if docker_engine_reachable():
        with _containers() as stack:
            yield stack
        return
    run_script("kafka.sh", "start")
    run_script("postgres.sh", "start")
    yield Stack(LOCAL_KAFKA, TEST_DB_URL, "local")


@contextmanager
def _containers() -> Iterator[Stack]:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with KafkaContainer().with_kraft() as kafka, PostgresContainer("postgres:16") as pg:
        url = pg.get_connection_url().replace("+psycopg2", "+asyncpg")
        yield Stack(kafka.get_bootstrap_server(), url, "testcontainers")
