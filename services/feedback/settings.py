"""Feedback settings (`NUDGE_FEEDBACK_*`), validated when the service starts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SNS_TOPIC_ARN = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$"
TopicArns = Annotated[frozenset[Annotated[str, Field(pattern=SNS_TOPIC_ARN)]], NoDecode]


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
    twilio_auth_token: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    """The Twilio account's auth token, which signs its webhooks (`X-Twilio-Signature`);
    comma-separated to accept the previous one too while a rotation (Twilio's secondary token
    promoted) settles, the current one first. API key secrets do not sign webhooks. Unset:
    every SMS webhook is refused (403)."""
    shops_dir: Path | None = None
    """Per-shop feedback files (`<shop_id>.yaml`); their `sms:` section holds the shop's
    name, support contact, own sender number and STOP / START / HELP answers."""
    sms_brand: Annotated[str, Field(min_length=1, max_length=60)] = "Nudge"
    """The name SMS answers carry when they concern no single shop (the shared number)."""
    sms_support: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    """The support contact in HELP answers for shops without their own."""
    sms_status_wait_s: float = Field(default=2.0, ge=0, le=10)
    """How long a status callback waits for its message to reach the index (dispatch's
    `message.sent` may still be on its way) before it is answered 503."""
    time_scale: float = Field(default=1.0, gt=0, le=1_000_000)
    """Event time faster than the wall clock, as the other services' (demos, tests only)."""
    clock_origin: float | None = None
    sns_topic_arns: TopicArns = frozenset()
    """The SNS topics whose notifications are taken (comma-separated ARNs; the SES
    configuration's bounce and complaint topics). None: every SNS message is refused."""
    sns_certs_dir: Path | None = None
    """Trusted SNS signing certificates, each saved under the file name its SigningCertURL
    ends with (`SimpleNotificationService-<hash>.pem`); looked up before anything is fetched."""
    sns_cert_fetch: bool = True
    """Fetch a signing certificate not found in `sns_certs_dir` from its SigningCertURL, only
    when that is `https://sns.<region>.amazonaws.com/<name>.pem` (checked before any request)."""
    sns_tls_ca_file: Path | None = None
    """CA bundle for those fetches' TLS (default: the system's)."""
    sns_signing_ca_file: Path | None = None
    """When set, a signing certificate must also chain to one of these CAs (PEM bundle;
    self-signed ones are the roots, the others offered as intermediates)."""
    sns_auto_confirm: bool = True
    """Confirm an allowed topic's SubscriptionConfirmation by fetching its SubscribeURL (host
    checked as above); off: the URL is logged for an operator to open."""
    soft_bounce_limit: int = Field(default=3, ge=1, le=1000)
    """Transient bounces of one address, for one shop, within the window that suppress it."""
    soft_bounce_window_h: float = Field(default=168.0, gt=0, le=24 * 366)

    @field_validator("sns_topic_arns", mode="before")
    @classmethod
    def _split_arns(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("twilio_auth_token", mode="before")
    @classmethod
    def _split_tokens(cls, value: object) -> object:
        if isinstance(value, str | SecretStr):
            text = value.get_secret_value() if isinstance(value, SecretStr) else value
            return tuple(part.strip() for part in text.split(",") if part.strip())
        return value
