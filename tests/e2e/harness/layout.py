"""Where the e2e stack lives: its ports and folders, apart from the local stack's, so that
restarting its broker or database never disturbs anything else on the machine."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
CONFIG_DIR = ROOT / "tests" / "e2e" / "config"
E2E_DIR = ROOT / ".local" / "e2e"
REPLIES_FILE = "replies.jsonl"
"""The simulator's inboxes' log of every reply they made, in the run folder."""


@dataclass(frozen=True)
class Ports:
    """The stack's ports: Kafka and PostgreSQL below the ephemeral range (a client
    reconnecting while they are down cannot be given their port), the services from `base`."""

    kafka: int = 29392
    kafka_controller: int = 29393
    postgres: int = 25432
    base: int = 18080

    @property
    def ingest(self) -> int:
        return self.base

    @property
    def triggers(self) -> int:
        return self.base + 1

    @property
    def dispatch_intake(self) -> int:
        return self.base + 2

    @property
    def feedback(self) -> int:
        return self.base + 3

    @property
    def segmenter(self) -> int:
        return self.base + 4

    @property
    def segmenter_api(self) -> int:
        return self.base + 5

    @property
    def dispatch_sender(self) -> int:
        return self.base + 6

    @property
    def smtp(self) -> int:
        return self.base + 7

    @property
    def smtp_control(self) -> int:
        return self.base + 8

    @property
    def sms(self) -> int:
        return self.base + 9


@dataclass(frozen=True)
class Layout:
    """The stack's folders: broker and database data shared by runs (wiped at each start),
    and the run's own folder for logs, sink logs, state and results."""

    run_dir: Path
    ports: Ports = Ports()
    base_dir: Path = E2E_DIR
    config_dir: Path = CONFIG_DIR

    @property
    def kafka_dir(self) -> Path:
        return self.base_dir / "kafka"

    @property
    def postgres_dir(self) -> Path:
        return self.base_dir / "postgres"

    @property
    def secret_key_file(self) -> Path:
        return self.base_dir / "secret.key"

    @property
    def link_keys_file(self) -> Path:
        return self.base_dir / "link.keys"

    @property
    def logs_dir(self) -> Path:
        return self.run_dir / "logs"

    @property
    def credentials_file(self) -> Path:
        return self.run_dir / "sim-shops.json"

    @property
    def smtp_log(self) -> Path:
        return self.run_dir / "smtp-sink.jsonl"

    @property
    def sms_log(self) -> Path:
        return self.run_dir / "sms-sink.jsonl"

    @property
    def replies_log(self) -> Path:
        return self.run_dir / REPLIES_FILE

    @property
    def metrics_file(self) -> Path:
        return self.run_dir / "metrics.jsonl"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.ports.kafka}"

    @property
    def database_url(self) -> str:
        return f"postgresql+asyncpg://nudge:nudge@127.0.0.1:{self.ports.postgres}/nudge"
