"""Apply the schema migrations (`nudge db migrate`), used by `make run`, tests and K8s jobs."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from shared.settings import DatabaseSettings

_INI = Path(__file__).with_name("alembic.ini")


def upgrade_to_head(settings: DatabaseSettings | None = None) -> None:
    settings = settings or DatabaseSettings()
    config = Config(str(_INI))
    config.attributes["database_url"] = settings.url.get_secret_value()
    command.upgrade(config, "head")
