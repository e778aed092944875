"""Ingest settings (`NUDGE_INGEST_*`), validated when the service starts."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class IngestSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NUDGE_INGEST_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    max_batch_events: int = Field(default=1000, ge=1, le=10_000)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    publish_timeout_s: float = Field(default=5.0, gt=0, le=60)
    """How long a request may wait for the broker before answering 503."""
    retry_after_s: int = Field(default=5, ge=1)
    signature_tolerance_s: int = Field(default=300, ge=1)
    """Age limit of signed native requests (replay protection), as Stripe does."""
    credentials_refresh_s: float = Field(default=5.0, gt=0)
    dedup_window_s: int = Field(default=24 * 3600, ge=0)
    dedup_max_ids: int = Field(default=1_000_000, ge=0)
    linger_ms: int = Field(default=2, ge=0, le=1000)
    header_timeout_s: float = Field(default=5.0, gt=0, le=300)
    """How long a connection may take to send a request's headers (or its first request)."""
    body_timeout_s: float = Field(default=10.0, gt=0, le=300)
    """How long a request's body may take to arrive once its headers are in (408 after)."""
    keep_alive_s: int = Field(default=5, ge=1, le=300)
    """How long an idle keep-alive connection stays open between requests."""
    max_connections: int = Field(default=2048, ge=1, le=1_000_000)
    """Connections held at once per worker; one more is answered 503 and closed."""
    unverified_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024 * 1024)
    """Bytes held at once by bodies read before their sender is verified (Shopify webhooks,
    whose signature covers the body): past it, such requests get 503. API-key routes check
    the key before reading the body."""
    workers: int = Field(default=1, ge=1, le=64)
    """Server processes sharing the port. Each has its own producer, recent-ids window and
    rate-limit buckets (README, "Several worker processes"); 1 serves in this process."""
