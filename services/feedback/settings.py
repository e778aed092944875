"""Feedback settings (`NUDGE_FEEDBACK_*`), validated when the service starts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator
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
    name, support contact, own sender number and STOP / START / HELP answers, their
    `language` and `tags:` section how free text is tagged (services/feedback/tagging/)."""
    tags_file: Path | None = None
    """The deployment's default tag dictionary, in place of the one shipped
    (services/feedback/tagging/default.yaml, whose format it has); shop files change it."""
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
    tracking_wait_s: float = Field(default=1.0, gt=0, le=10)
    """How long an open or a click waits for the index and then for the broker before the
    customer gets the pixel or the redirect regardless (the open or click is then counted as
    lost): a click is worth less than the customer reaching the shop."""
    machine_networks: Annotated[tuple[IPvAnyNetwork, ...], NoDecode] = ()
    """Addresses whose opens and clicks are a machine's (comma-separated CIDR ranges: Apple's
    published egress ranges for Mail Privacy Protection, a mail gateway's). The client's
    address is the connection's, or the X-Forwarded-For uvicorn trusts from
    FORWARDED_ALLOW_IPS (the load balancer's address)."""
    machine_after_send_s: float = Field(default=10.0, ge=0, le=3600)
    """An email opened or clicked within this many seconds (of wall time) of being sent is
    taken for a gateway scanning it on delivery, not a person."""
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
    credentials_refresh_s: float = Field(default=5.0, gt=0, le=3600)
    """How often the shops' API keys (their hashes only) are read again for reports."""
    report_max_days: int = Field(default=366, ge=1, le=3660)
    """The longest period one report covers."""
    report_timeout_s: float = Field(default=3.0, gt=0, le=60)
    """How long a report waits for PostgreSQL before it is answered 503 (Retry-After)."""

    @field_validator("machine_networks", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

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
