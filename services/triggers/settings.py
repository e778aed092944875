"""Triggers settings (`NUDGE_TRIGGERS_*`), validated when the worker starts."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TriggersSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NUDGE_TRIGGERS_", extra="ignore")

    app_id: str = Field(default="nudge-triggers", pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    """Consumer group and prefix of the changelog topics; a new id starts from empty state."""
    store: str = Field(default="rocksdb://", pattern=r"^(rocksdb|memory)://")
    """Table storage: RocksDB in production (survives restarts), memory for quick trials."""
    data_dir: Path = Path(".local/triggers")
    """Where RocksDB keeps its files; a persistent volume on Kubernetes."""
    campaigns_dir: Path | None = None
    """Per-shop campaign files (`<shop_id>.yaml`); shops without one get the default catalog."""
    host: str = "127.0.0.1"
    port: int = Field(default=8081, ge=1, le=65535)
    """Health, readiness and metrics pages (Faust's own web server stays off: it exposes tables)."""
    tick_interval_s: float = Field(default=0.1, gt=0, le=60)
    """How often the due-timer index is looked at, in wall-clock seconds."""
    batch_max: int = Field(default=1000, ge=1, le=100_000)
    """Records decided together: their output is sent and acknowledged once, each customer's
    state written once. Larger batches cost fewer broker round trips per record."""
    batch_window_s: float = Field(default=0.02, gt=0, le=5)
    """How long a batch waits to fill up: the most a quiet stream adds to a record's latency."""
    producer_linger_s: float = Field(default=0.01, ge=0, le=1)
    """How long the producer waits to fill a request (Faust's `producer_linger`). A batch's
    table writes are sent one by one as Faust makes them: without a wait each goes out in a
    request of its own, which costs more CPU per record than deciding it (`make bench`). Adds
    at most this much to a batch before its output is acknowledged."""
    max_fires_per_tick: int = Field(default=10_000, ge=1)
    time_scale: float = Field(default=1.0, gt=0, le=1_000_000)
    """Run campaign time this many times faster than the wall clock (demos and tests)."""
    clock_origin: float | None = None
    """Unix time where scaled and wall time coincide; every worker of a demo must share it."""
    replication_factor: int = Field(default=1, ge=1)
    """Replication of the changelog topics Faust creates (3 on a production cluster)."""
    standby_replicas: int = Field(default=0, ge=0)
    """Warm copies of other workers' tables, for faster fail-over."""
    instance_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,249}$")
    """Static group membership (Kafka's `group.instance.id`; on Kubernetes the pod name, which
    a StatefulSet keeps across restarts): a worker back within the session timeout gets its
    partitions again without a rebalance. Unset: dynamic membership, a rebalance per restart."""
    start_from: Literal["earliest", "latest"] = "earliest"
    """Where a new app id starts reading; an existing one resumes from its committed offsets.

    `earliest` processes the retained history (late steps expire by their lateness bound);
    `latest` (as of the worker's first start) suits demos and tests that should see only what
    happens next."""
    log_level: str = "info"
