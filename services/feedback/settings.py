"""Feedback settings (`NUDGE_FEEDBACK_*`), validated when the service starts."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class FeedbackSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NUDGE_FEEDBACK_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8083, ge=1, le=65535)
    public_url: str = Field(default="http://127.0.0.1:8083", pattern=r"^https?://[^/?#\s]+$")
    """The service's address as the world calls it (scheme, host, port; no path): what
    Twilio signs a webhook's URL with and what links point at. Behind a load balancer it is
    not the Host the service sees."""
    group_id: str = "nudge-feedback"
    """Consumer group of the index (contacts and sent messages learnt from the topics)."""
    start_from: Literal["earliest", "latest"] = "earliest"
    """Where a *new* group starts: `earliest` builds the index from the retained topics."""
    publish_timeout_s: float = Field(default=5.0, gt=0, le=60)
    """How long a request waits for the broker before answering 503."""
    retry_after_s: int = Field(default=5, ge=1)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, le=1024 * 1024)
    """Provider callbacks are small; SNS notifications are at most 256 KiB."""
    header_timeout_s: float = Field(default=5.0, gt=0, le=300)
    body_timeout_s: float = Field(default=10.0, gt=0, le=300)
    keep_alive_s: int = Field(default=5, ge=1, le=300)
    max_connections: int = Field(default=2048, ge=1, le=1_000_000)
    unverified_body_bytes: int = Field(default=64 * 1024 * 1024, ge=1024 * 1024)
    """Bytes held at once by bodies whose signature is not checked yet (every route here is
    signed over its body); past it, 503."""
