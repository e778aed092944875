"""Session fixtures: the real broker and database, topics, schema, one running ingest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from kafka import KafkaAdminClient

from shared.kafka import create_topics
from shared.settings import KafkaSettings
from shared.topics import SHOP_EVENTS
from tests.support.ingest_process import running_ingest
from tests.support.kafka_records import TopicWindow
from tests.support.stack import ROOT, Stack, provide_stack


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    with provide_stack() as found:
        create_topics(KafkaSettings(bootstrap_servers=found.kafka_bootstrap))
        _fresh_schema(found.database_url)
        yield found


def _fresh_schema(database_url: str) -> None:
    """Down to nothing and up again: the migrations themselves are under test too."""
    config = Config(str(ROOT / "shared" / "db" / "alembic.ini"))
    config.attributes["database_url"] = database_url
    command.downgrade(config, "base")
    command.upgrade(config, "head")


@pytest.fixture
def admin(stack: Stack) -> Iterator[KafkaAdminClient]:
    """kafka-python's admin client on the test broker, to look at topics as the broker has them."""
    client = KafkaAdminClient(bootstrap_servers=stack.kafka_bootstrap)
    yield client
    client.close()


@pytest.fixture(scope="session")
def logs_dir() -> Path:
    path = ROOT / ".local" / "test-logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def ingest_url(stack: Stack, logs_dir: Path) -> Iterator[str]:
    with running_ingest(stack.kafka_bootstrap, stack.database_url, logs_dir / "ingest.log") as base:
        yield base


@pytest.fixture
def shop_events(stack: Stack) -> Iterator[TopicWindow]:
    window = TopicWindow(stack.kafka_bootstrap, SHOP_EVENTS.name)
    yield window
    window.close()
