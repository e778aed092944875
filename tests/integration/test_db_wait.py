"""`nudge db wait` against a real database, as the services' init containers run it: it fails
(exit 1, with the reason) until `nudge db migrate` has brought the schema to the heads, then
passes. A database of its own, which the test empties and migrates."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from services.cli import app
from tests.support.stack import ROOT, Stack

pytestmark = pytest.mark.integration
DATABASE = "nudge_db_wait"


def _recreate(database_url: str, name: str) -> str:
    url = make_url(database_url)

    async def recreate() -> None:
        engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            await engine.dispose()

    asyncio.run(recreate())
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def empty_database(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = _recreate(stack.database_url, DATABASE)
    monkeypatch.setenv("DATABASE_URL", url)
    yield url


def test_the_wait_ends_once_the_migration_has_run(empty_database: str) -> None:
    runner = CliRunner()
    before = runner.invoke(app, ["db", "wait", "--timeout", "0"])
    assert before.exit_code == 1
    assert "no schema yet" in before.output

    assert runner.invoke(app, ["db", "migrate"]).exit_code == 0
    after = runner.invoke(app, ["db", "wait", "--timeout", "5"])
    assert after.exit_code == 0, after.output

    config = Config(str(ROOT / "shared" / "db" / "alembic.ini"))
    config.attributes["database_url"] = empty_database
    command.downgrade(config, "-1")  # the previous release's schema
    behind = runner.invoke(app, ["db", "wait", "--timeout", "0"])
    assert behind.exit_code == 1
    assert "this release expects" in behind.output
