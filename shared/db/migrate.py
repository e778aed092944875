"""Apply the schema migrations (`nudge db migrate`), used by `make run`, tests and K8s jobs; and
wait until another process has applied them (`nudge db wait`, the services' init containers).
A schema a newer release has migrated further is ready too: each release's migrations keep the
release before it working (expand, then contract a release later)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import Connection

from shared.db.engine import make_engine
from shared.settings import DatabaseSettings

_INI = Path(__file__).with_name("alembic.ini")
WAIT_INTERVAL_S = 2.0
"""How often `nudge db wait` looks at the database's revision again."""


def _config(settings: DatabaseSettings) -> Config:
    config = Config(str(_INI))
    config.attributes["database_url"] = settings.url.get_secret_value()
    return config


def upgrade_to_head(settings: DatabaseSettings | None = None) -> None:
    settings = settings or DatabaseSettings()
    command.upgrade(_config(settings), "head")


def expected_heads() -> frozenset[str]:
    """The head revision(s) of the migrations this code carries."""
    return frozenset(ScriptDirectory.from_config(Config(str(_INI))).get_heads())


def _known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(Config(str(_INI))).get_revision(revision) is not None
    except CommandError:
        return False


def newer_revisions(current: Collection[str], known: Collection[str] | None = None) -> list[str]:
    """The database's revisions this code does not carry: a newer release's migrations (its
    scripts are not in this image). `known`: the revisions this code carries (default: its
    scripts)."""
    return sorted(r for r in current if not (r in known if known is not None else _known(r)))


def schema_behind(
    current: Collection[str], expected: Collection[str], known: Collection[str] | None = None
) -> str | None:
    """None when the schema is ready for this code: at the migrations' heads, or past them at
    revisions a newer release added (an old pod restarting mid-rollout, a rollback: a newer
    release's migrations keep the release before it working, expand then contract). Else why
    it is behind: never migrated, or at an older revision this code carries."""
    if set(current) == set(expected) or newer_revisions(current, known):
        return None
    want = ", ".join(sorted(expected))
    if not current:
        return f"the database has no schema yet (this release expects revision {want})"
    return f"the database is at revision {', '.join(sorted(current))}, this release expects {want}"


def _current_heads(connection: Connection) -> frozenset[str]:
    return frozenset(MigrationContext.configure(connection).get_current_heads())


async def current_heads(settings: DatabaseSettings) -> frozenset[str]:
    """The revision(s) the database's schema is at (empty: never migrated)."""
    engine = make_engine(settings)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_current_heads)
    finally:
        await engine.dispose()


async def wait_for_head(
    settings: DatabaseSettings, timeout_s: float, interval_s: float = WAIT_INTERVAL_S
) -> str:
    """Return once the schema is ready for this code (at its heads, or at a newer release's
    revision) with a line saying which, for the init container's log; TimeoutError with the
    last reason (behind, unreachable) when it is not ready within `timeout_s`."""
    expected = expected_heads()
    deadline = time.monotonic() + timeout_s
    while True:
        current: frozenset[str] = frozenset()
        try:
            current = await current_heads(settings)
            reason = schema_behind(current, expected)
        except Exception as exc:  # not up yet, refused, DNS: all mean "not yet"
            reason = f"the database did not answer: {type(exc).__name__}: {exc}"
        if reason is None:
            newer = newer_revisions(current)
            if not newer:
                return "database schema is at this release's migrations"
            return (
                f"database schema is at revision {', '.join(newer)}, newer than this release's "
                f"{', '.join(sorted(expected))} (a newer release migrated it): going on"
            )
        if time.monotonic() + interval_s >= deadline:
            raise TimeoutError(f"schema not ready after {timeout_s:g}s: {reason}")
        await asyncio.sleep(interval_s)
