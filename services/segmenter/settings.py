"""Segmenter settings (`NUDGE_SEGMENTER_*`), validated when the worker starts."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SegmenterSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NUDGE_SEGMENTER_", extra="ignore")

    app_id: str = Field(default="nudge-segmenter", pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    """Consumer group and prefix of the changelog topics; a new id starts from empty profiles."""
    store: str = Field(default="rocksdb://", pattern=r"^(rocksdb|memory)://")
    data_dir: Path = Path(".local/segmenter")
    """Where RocksDB keeps its files; a persistent volume on Kubernetes."""
    segments_dir: Path | None = None
    """Per-shop segment files (`<shop_id>.yaml`), beside the campaign files; shops without one
    get the shipped segments."""
    host: str = "127.0.0.1"
    port: int = Field(default=8084, ge=1, le=65535)
    """Health, readiness and metrics pages (Faust's own web server stays off: it exposes tables)."""
    tick_interval_s: float = Field(default=0.5, gt=0, le=60)
    """How often the due-timer index is looked at, in wall-clock seconds."""
    batch_max: int = Field(default=1000, ge=1, le=100_000)
    batch_window_s: float = Field(default=0.02, gt=0, le=5)
    producer_linger_s: float = Field(default=0.01, ge=0, le=1)
    """How long the producer waits to fill a request (Faust's `producer_linger`). A batch's
    table writes are sent one by one as Faust makes them: without a wait each goes out in a
    request of its own, which costs more CPU per record than deciding it (`make bench`). Adds
    at most this much to a batch before its output is acknowledged."""
    max_due_per_tick: int = Field(default=10_000, ge=1)
    rfm_rebuild_s: float = Field(default=6 * 3600, ge=60)
    """How often (campaign time) the RFM quantiles are rebuilt from every profile."""
    time_scale: float = Field(default=1.0, gt=0, le=1_000_000)
    clock_origin: float | None = None
    replication_factor: int = Field(default=1, ge=1)
    standby_replicas: int = Field(default=0, ge=0)
    instance_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,249}$")
    """Static group membership (Kafka's `group.instance.id`; on Kubernetes the pod name, which
    a StatefulSet keeps across restarts): a worker back within the session timeout gets its
    partitions again without a rebalance. Unset: dynamic membership, a rebalance per restart."""
    start_from: Literal["earliest", "latest"] = "earliest"
    """Where a new app id starts reading; an existing one resumes from its committed offsets."""
    log_level: str = "info"
