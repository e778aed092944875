"""`nudge db wait` against a real database, as the services' init containers run it: it fails
(exit 1, with the reason) until `nudge db migrate` has brought the schema to the heads, then
passes, and passes too once a newer release has migrated past them (a rollback, an old pod
restarting mid-rollout). A database of its own, named after the session's (two sessions on one
server do not share it), which the test empties and migrates."""

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
NEWER_REVISION = "ffffffffffff"
"""A revision no script of this code carries: what a newer release's migration leaves."""


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


def _set_revision(database_url: str, revision: str) -> str:
    """Write `revision` as the schema's (as a newer release's migration would); the previous."""

    async def swap() -> str:
        engine = create_async_engine(database_url, poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                previous = await conn.execute(text("SELECT version_num FROM alembic_version"))
                was = previous.scalar_one()
                await conn.execute(
                    text("UPDATE alembic_version SET version_num = :revision"),
                    {"revision": revision},
                )
                return str(was)
        finally:
            await engine.dispose()

    return asyncio.run(swap())


@pytest.fixture
def empty_database(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = _recreate(stack.database_url, f"{make_url(stack.database_url).database}_db_wait")
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
    assert "at this release's migrations" in after.output

    head = _set_revision(empty_database, NEWER_REVISION)
    newer = runner.invoke(app, ["db", "wait", "--timeout", "0"])
    assert newer.exit_code == 0, newer.output
    assert NEWER_REVISION in newer.output and "newer release" in newer.output
    _set_revision(empty_database, head)

    config = Config(str(ROOT / "shared" / "db" / "alembic.ini"))
    config.attributes["database_url"] = empty_database
    command.downgrade(config, "-1")  # the previous release's schema
    behind = runner.invoke(app, ["db", "wait", "--timeout", "0"])
    assert behind.exit_code == 1
    assert "this release expects" in behind.output
