"""Records parked on a dead-letter topic: the original bytes and why they were refused."""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, Field

from shared.events.types import Model


class DeadLetter(Model):
    """A record a service could not process. Nothing is dropped silently: it lands here."""

    source_topic: str
    source_partition: int | None = None
    source_offset: int | None = None
    key: str | None = None
    service: str
    reason: Annotated[str, Field(max_length=10_000)]
    payload: str
    """The original record value, as text (binary values are base64-encoded)."""
    payload_encoding: str = "utf-8"
    parked_at: AwareDatetime
