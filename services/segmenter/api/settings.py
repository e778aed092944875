"""Settings of the segmenter's read API (`NUDGE_SEGMENTER_API_*`), validated at start.

The database is the one every service names (`DATABASE_URL`, shared/settings.py), as the
feedback service's; Kafka's are the shared `KAFKA_*`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class SegmenterApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NUDGE_SEGMENTER_API_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8085, ge=1, le=65535)
    group_id: str = Field(default="nudge-segmenter-api", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    """Consumer group of the projection (customer.profiles.v1 into PostgreSQL)."""
    start_from: Literal["earliest", "latest"] = "earliest"
    """Where a *new* group starts: `earliest` builds the projection from the compacted topic,
    which holds every customer's latest profile; `latest` only for tests and demos."""
    credentials_refresh_s: float = Field(default=5.0, gt=0, le=3600)
    """How often the shops' API keys (their hashes only) are read again."""
    read_timeout_s: float = Field(default=3.0, gt=0, le=60)
    """How long a request waits for PostgreSQL before it is answered 503 (Retry-After)."""
    retry_after_s: int = Field(default=5, ge=1)
    page_size: int = Field(default=100, ge=1, le=1000)
    """Members per page when the request does not say (`limit`)."""
    max_page_size: int = Field(default=1000, ge=1, le=10_000)
    """The largest `limit` a request may ask for."""
    header_timeout_s: float = Field(default=5.0, gt=0, le=300)
    keep_alive_s: int = Field(default=5, ge=1, le=300)
    max_connections: int = Field(default=2048, ge=1, le=1_000_000)
