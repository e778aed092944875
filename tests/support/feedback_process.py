"""The feedback service run as SREs run it (`python -m services.feedback`), in its own process,
with the link keys only (never a master key), on a free port; and its app with fakes."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from services.feedback.app import create_app
from services.feedback.directory.memory import MemoryDirectory
from services.feedback.parts import Parts
from services.feedback.settings import FeedbackSettings
from shared.events import EventEnvelope
from shared.http.body import UnverifiedBodies
from tests.support.dispatch_process import TEST_LINK_KEYS
from tests.support.ingest_process import ingest_process

FEEDBACK_ARGV = ("-m", "services.feedback")
SERVED_AT_OWN_URL = (
    "-c",
    "import os, runpy; os.environ['NUDGE_FEEDBACK_PUBLIC_URL'] = 'http://127.0.0.1:{port}'; "
    "runpy.run_module('services.feedback', run_name='__main__', alter_sys=True)",
)
"""The same, its public URL being the address it listens on (no load balancer in front): what
a provider that calls it back signs (the SMS sink's status callbacks)."""
MASTER_KEY_SETTINGS = ("NUDGE_SECRET_KEY", "NUDGE_SECRET_KEY_FILE", "NUDGE_SECRET_KEYS_FILE")


@contextmanager
def running_feedback(
    kafka: str, database_url: str, log_path: Path, *, own_url: bool = False, **settings: str
) -> Iterator[str]:
    """Start the service, wait until /readyz answers 200, yield its base URL (`own_url`: which
    is also its public URL, the port being free only once it is chosen)."""
    env = {k: v for k, v in os.environ.items() if k not in MASTER_KEY_SETTINGS}
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=kafka,
        DATABASE_URL=database_url,
        NUDGE_LINK_KEYS=TEST_LINK_KEYS.to_text(),
        NUDGE_FEEDBACK_START_FROM="latest",
        NUDGE_FEEDBACK_GROUP_ID=f"test-feedback-{os.getpid()}-{id(log_path)}",
        **{f"NUDGE_FEEDBACK_{k.upper()}": v for k, v in settings.items()},
    )
    argv = SERVED_AT_OWN_URL if own_url else (*FEEDBACK_ARGV,)
    with ingest_process(env, log_path, argv, port_setting="NUDGE_FEEDBACK_PORT") as (base, _):
        yield base


class RecordingPublisher:
    """Keeps what would be published; `ready` and failure are the test's to set."""

    def __init__(self) -> None:
        self.published: list[EventEnvelope] = []
        self.topics: list[str | None] = []
        """The topic each published event went to, in step (None: feedback.events.v1)."""
        self.ready = True
        self.failure: Exception | None = None

    async def publish(self, events: Sequence[EventEnvelope], *, topic: str | None = None) -> None:
        await asyncio.sleep(0)
        if self.failure is not None:
            raise self.failure
        self.published.extend(events)
        self.topics.extend([topic] * len(events))

    def on(self, topic: str | None) -> list[EventEnvelope]:
        """What went to `topic` (None: feedback.events.v1)."""
        return [e for e, t in zip(self.published, self.topics, strict=True) if t == topic]


def fake_parts(**settings: object) -> Parts:
    """The service's parts with an in-memory directory and a recording publisher."""
    return Parts(
        settings=FeedbackSettings(**settings),  # type: ignore[arg-type]
        directory=MemoryDirectory(),
        publisher=RecordingPublisher(),
        link_keys=TEST_LINK_KEYS,
        unverified=UnverifiedBodies(64 * 1024 * 1024, 5),
    )


__all__ = ["create_app", "fake_parts", "running_feedback"]
