"""The feedback service's collaborators, built once (`bootstrap`) and kept on the app.

Tests build the same parts with fakes (an in-memory directory, a recording publisher) and
hand them to `create_app`; `serve()` only runs and stops what was built here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncEngine

from services.feedback import tagging
from services.feedback.attribution.parts import AttributionParts
from services.feedback.bounces.parts import BounceParts
from services.feedback.directory import Directory
from services.feedback.directory.postgres import PostgresDirectory
from services.feedback.reports.parts import ReportParts
from services.feedback.settings import FeedbackSettings
from services.feedback.sms.profiles import SmsProfiles
from services.feedback.surveys.tagger import NoTags, Tagger
from services.feedback.tracking.bursts import RecentClicks
from services.feedback.unsubscribe.categories import Category, load_categories
from shared.clock import Clock, SystemClock, make_clock
from shared.db.engine import make_engine
from shared.events import EventEnvelope
from shared.http.body import UnverifiedBodies
from shared.keyring import LinkKeys
from shared.publisher import EventPublisher
from shared.settings import DatabaseSettings, KafkaSettings, LinkKeySettings
from shared.topics import FEEDBACK_EVENTS


class Publisher(Protocol):
    """Publishes feedback events and returns once the broker has them (else raises
    shared.publisher.BrokerUnavailable): a route answers 2xx only after that. `topic`: another
    topic than feedback.events.v1 (message status records go to messages.status.v1)."""

    @property
    def ready(self) -> bool: ...

    async def publish(
        self, events: Sequence[EventEnvelope], *, topic: str | None = None
    ) -> None: ...


@dataclass(frozen=True)
class Parts:
    settings: FeedbackSettings
    directory: Directory
    publisher: Publisher
    link_keys: LinkKeys
    unverified: UnverifiedBodies
    sms: SmsProfiles = field(default_factory=SmsProfiles)
    """Each shop's SMS name, sender number and keyword answers (NUDGE_FEEDBACK_SHOPS_DIR)."""
    clock: Clock = field(default_factory=SystemClock)
    """The time events are stamped with (scaled in demos, as the other services' clocks)."""
    bounces: BounceParts = field(default_factory=BounceParts.in_memory)
    """SES bounces and complaints over SNS: signing certificates, suppressions (PostgreSQL)."""
    recent_clicks: RecentClicks = field(default_factory=RecentClicks)
    """The links of each message clicked in the last second, to tell a scanner's burst."""
    attribution: AttributionParts = field(default_factory=AttributionParts.in_memory)
    """Each shop's attribution policy, touches and conversions (PostgreSQL)."""
    tagger: Tagger = field(default_factory=NoTags)
    """Tags free text (survey comments, SMS replies) from the shop's keyword dictionary per
    language; `bootstrap` loads services/feedback/tagging's (tests: NoTags unless given)."""
    categories: Mapping[str, tuple[Category, ...]] = field(default_factory=dict)
    """Each shop's campaign categories offered on the preference page (its feedback file)."""
    reports: ReportParts = field(default_factory=ReportParts.in_memory)
    """Reports: their store (PostgreSQL) and the shops' API keys (hashes only)."""


@dataclass(frozen=True)
class Built:
    """What `bootstrap` made for a running service: the parts, and what only it starts."""

    parts: Parts
    publisher: EventPublisher
    engine: AsyncEngine
    kafka: KafkaSettings


def bootstrap(
    settings: FeedbackSettings,
    kafka: KafkaSettings | None = None,
    database: DatabaseSettings | None = None,
    link_keys: LinkKeys | None = None,
) -> Built:
    """The real parts: PostgreSQL directory, the acks-before-answer publisher, link keys."""
    kafka = kafka or KafkaSettings()
    engine = make_engine(database or DatabaseSettings())
    publisher = EventPublisher(
        kafka,
        topic=FEEDBACK_EVENTS.name,
        client_id="nudge-feedback",
        timeout_s=settings.publish_timeout_s,
        linger_ms=1,
    )
    parts = Parts(
        settings=settings,
        directory=PostgresDirectory(engine),
        publisher=publisher,
        link_keys=link_keys or LinkKeySettings().keys(),
        unverified=UnverifiedBodies(settings.unverified_body_bytes, settings.retry_after_s),
        sms=SmsProfiles.load(settings.shops_dir, settings.sms_brand, settings.sms_support),
        clock=make_clock(settings.time_scale, settings.clock_origin),
        bounces=BounceParts.from_settings(settings, engine),
        attribution=AttributionParts.from_settings(settings, engine),
        tagger=tagging.Tagger.load(settings.shops_dir, settings.tags_file),
        categories=load_categories(settings.shops_dir),
        reports=ReportParts.from_settings(settings, engine),
    )
    return Built(parts, publisher, engine, kafka)


def parts(request: Request) -> Parts:
    found: Parts = request.app.state.parts
    return found
