"""Which environment variable names the services read: the fields of their settings classes.

A deployment file (the Dockerfile's ENV, compose's `environment:`, a manifest's `env:` or the
ConfigMap it loads) that sets `NUDGE_TRIGGERS_CAMPAIGN_DIR` instead of
`NUDGE_TRIGGERS_CAMPAIGNS_DIR` starts a service that silently ignores it (the settings classes
ignore unknown names). `unknown_names` finds such typos: a name under our prefixes that no
settings class reads. Used by `python -m deploy.checks` and by the compose and Dockerfile tests.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic_settings import BaseSettings

from services.dispatch.providers.email import EmailSettings
from services.dispatch.providers.sms import TwilioSettings
from services.dispatch.settings import DispatchSettings
from services.feedback.settings import FeedbackSettings
from services.ingest.settings import IngestSettings
from services.segmenter.api.settings import SegmenterApiSettings
from services.segmenter.settings import SegmenterSettings
from services.triggers.settings import TriggersSettings
from shared.settings import (
    DatabaseSettings,
    KafkaSettings,
    LinkKeySettings,
    SecretKeySettings,
)

SETTINGS_CLASSES: tuple[type[BaseSettings], ...] = (
    IngestSettings,
    TriggersSettings,
    SegmenterSettings,
    SegmenterApiSettings,
    DispatchSettings,
    EmailSettings,
    TwilioSettings,
    FeedbackSettings,
    KafkaSettings,
    DatabaseSettings,
    SecretKeySettings,
    LinkKeySettings,
)
"""Every settings class a `nudge` service or tool reads from the environment."""

OUR_PREFIXES = ("NUDGE_", "KAFKA_", "DATABASE_")
"""Names under these prefixes are ours, and must be a settings field; others (PATH,
PYTHONUNBUFFERED, POSTGRES_PASSWORD...) are not checked."""


def env_names(settings: type[BaseSettings]) -> frozenset[str]:
    """The variable names a settings class reads (prefix + field name, upper case)."""
    prefix = str(settings.model_config.get("env_prefix", "")).upper()
    return frozenset(f"{prefix}{name}".upper() for name in settings.model_fields)


def known_names() -> frozenset[str]:
    """Every variable name some settings class reads."""
    return frozenset().union(*(env_names(settings) for settings in SETTINGS_CLASSES))


def unknown_names(names: Iterable[str], allowed: Iterable[str] = ()) -> list[str]:
    """The names under our prefixes that no settings class reads (and `allowed` does not
    excuse: a script's own variable), sorted."""
    known = known_names() | {name.upper() for name in allowed}
    return sorted(
        {
            name
            for name in names
            if name.upper().startswith(OUR_PREFIXES) and name.upper() not in known
        }
    )
