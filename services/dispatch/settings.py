"""Dispatch settings (`NUDGE_DISPATCH_*`), validated when the service starts."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Role = Literal["intake", "send"]
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
"""Where a plain-http unsubscribe URL is allowed: the hosts the email builder accepts it for
(services/dispatch/providers/email.py), so that what starts also sends."""
PUBLIC_URL_SETTING = "NUDGE_DISPATCH_PUBLIC_URL"


def check_public_url(value: str) -> str:
    """The feedback service's base URL without a trailing slash; a ValueError naming the
    setting unless it is https://host[:port][/path], or http:// on a loopback host."""
    url = value.strip().rstrip("/")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ValueError(f"{PUBLIC_URL_SETTING} is not a URL ({exc}): {value!r}") from None
    if not host or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(
            f"{PUBLIC_URL_SETTING} must be https://host[:port][/path] (no query, fragment "
            f"or credentials): {value!r}"
        )
    if parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS):
        return url
    raise ValueError(
        f"{PUBLIC_URL_SETTING} must be an https:// URL (RFC 8058 one-click unsubscribe links; "
        f"plain http only on localhost, 127.0.0.1 or ::1): {value!r}"
    )


class DispatchSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NUDGE_DISPATCH_", extra="ignore")

    roles: Annotated[frozenset[Role], NoDecode] = frozenset({"intake", "send"})
    """What this process does, comma-separated: `intake` reads the topics into the contact
    store and the message log; `send` claims, decides and sends. Both by default. Apart, each
    runs on a core of its own and scales on its own (their only link is the message log)."""
    group_id: str = "nudge-dispatch"
    host: str = "127.0.0.1"
    port: int = Field(default=8082, ge=1, le=65535)
    """Health, readiness and metrics pages."""
    shops_dir: Path | None = None
    """Per-shop brand and sending policy (`<shop_id>.yaml`); defaults apply without one."""
    templates_dir: Path | None = None
    """Per-shop template overrides (`<shop_id>/<locale>/...`); built-in templates otherwise."""
    default_shop_url: str | None = Field(default=None, pattern=r"^https?://\S*\{shop_id\}\S*$")
    """The shop link for shops without a profile, `{shop_id}` filled in (demos and tests, e.g.
    `https://{shop_id}.example`); without it such a shop's links cannot render, and its
    messages are skipped with the reason rather than sent with a broken link."""
    public_url: str = "http://127.0.0.1:8083"
    """Where the feedback service answers one-click unsubscribes (`/u/<token>`): https, as
    RFC 8058 and the mailbox providers require; plain http only on loopback (the local
    stack). Checked at start: a wrong one would fail every marketing email at send time."""
    survey_ttl_days: int = Field(default=30, ge=1, le=366)
    """How long a survey link (`/s/<token>`, signed into steps that ask for an answer) takes
    answers: an answer months later says little, and a leaked link stops working."""
    claim_batch: int = Field(default=200, ge=1, le=5000)
    """Messages taken per round by one sender."""
    in_flight: int = Field(default=64, ge=1, le=1000)
    """Provider calls in progress at once."""
    rounds_in_flight: int = Field(default=4, ge=1, le=16)
    """How far claims run ahead of the providers, in batches: up to this many times
    `claim_batch` messages decided and not yet sent (1: the next batch is admitted once the
    calls of the last have answered). Counted call by call: a slow call holds back its own
    place, never its batch's."""
    deciders: int = Field(default=2, ge=1, le=8)
    """Batches claimed and decided at once in this process: while one waits for PostgreSQL,
    another decides. They share the log as separate processes do (claims take turns, and a
    customer being decided by one is not claimed by another)."""
    poll_interval_s: float = Field(default=0.2, gt=0, le=60)
    lease_s: float = Field(default=60.0, gt=1)
    """A message whose sender went silent this long is taken over and resent (same id)."""
    max_attempts: int = Field(default=8, ge=1, le=100)
    backoff_base_s: float = Field(default=2.0, gt=0)
    backoff_cap_s: float = Field(default=300.0, gt=0)
    contact_wait_s: float = Field(default=60.0, ge=0)
    """How long a trigger waits for its contact to appear (the shop event may lag behind)."""
    email_per_s: float = Field(default=2000.0, gt=0)
    sms_per_s: float = Field(default=1000.0, gt=0)
    circuit_failures: int = Field(default=5, ge=1)
    """Consecutive transient failures that pause a provider (no retry storm)."""
    circuit_max_pause_s: float = Field(default=60.0, gt=0)
    status_ack_timeout_s: float = Field(default=10.0, gt=0, le=300)
    """How long a batch's status records wait for the broker before they are kept in the
    outbox instead (sending goes on either way)."""
    sms_status_callback_url: str | None = None
    time_scale: float = Field(default=1.0, gt=0, le=1_000_000)
    """Campaign time faster than the wall clock, as the triggers service's (demos only)."""
    clock_origin: float | None = None
    start_from: Literal["earliest", "latest"] = "earliest"
    """Where a *new* group starts: `earliest` also builds the contact store from the retained
    shop events; `latest` (as of the first start) suits demos and tests."""

    @field_validator("public_url")
    @classmethod
    def _one_click_url(cls, value: str) -> str:
        return check_public_url(value)

    @field_validator("roles", mode="before")
    @classmethod
    def _split_roles(cls, value: object) -> object:
        if isinstance(value, str):
            value = {part.strip() for part in value.split(",") if part.strip()}
        if not value:
            raise ValueError("at least one of intake, send")
        return value
