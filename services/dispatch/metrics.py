"""Prometheus metrics of the dispatch service (served on /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

MESSAGES = Counter(
    "nudge_dispatch_messages_total",
    "Message outcomes by channel, status (sent, skipped, deferred, retrying, failed, rejected) "
    "and reason",
    ["channel", "status", "reason"],
)
TRIGGERS = Counter(
    "nudge_dispatch_triggers_total", "Triggers read, by outcome (queued, repeat)", ["outcome"]
)
INTAKE_PARKED = Counter(
    "nudge_dispatch_intake_parked_total",
    "Records intake parked on their topic's dead-letter topic, by source topic and why "
    "(invalid, refused by the database, internal error)",
    ["topic", "why"],
)
INTAKE_POLLS_GIVEN_BACK = Counter(
    "nudge_dispatch_intake_polls_given_back_total",
    "Polls that could not be stored (database or broker unavailable) and are read again",
)
PROVIDER_SECONDS = Histogram(
    "nudge_dispatch_provider_seconds",
    "Provider call duration by channel",
    ["channel"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
PROVIDER_ERRORS = Counter(
    "nudge_dispatch_provider_errors_total",
    "Failed provider calls by channel and kind (transient, permanent, misconfigured: the "
    "provider cannot be reached as configured and the channel is paused)",
    ["channel", "kind"],
)
BACKOFF_SECONDS = Histogram(
    "nudge_dispatch_backoff_seconds",
    "Delays chosen before retrying a transient failure",
    ["channel"],
    buckets=(1, 2, 5, 10, 30, 60, 120, 300),
)
CHANNEL_PAUSED = Gauge(
    "nudge_dispatch_channel_paused_seconds",
    "Seconds until a channel's provider pause ends (0: sending). A pause follows repeated "
    "transient failures (the circuit) or a misconfiguration",
    ["channel"],
)
WAITING = Gauge("nudge_dispatch_waiting_messages", "Messages queued, deferred or retrying")
OUTBOX = Counter(
    "nudge_dispatch_outbox_records_total",
    "Records kept in the outbox because the broker did not acknowledge them in time, and "
    "records relayed from it later",
    ["event"],
)
SMS_UNTRACKED = Counter(
    "nudge_dispatch_sms_untracked_total",
    "SMS sent with their links untracked: tracked links (about 170 characters each) would "
    "have made them longer than their template's max_segments",
)
