"""Records parked on a dead-letter topic: the original bytes and why they were refused."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from shared.events.types import Model, Timestamp


class DeadLetter(Model):
    """A record a service could not process. Nothing is dropped silently: it lands here."""

    # The payload is the record's bytes: never trimmed, or a replay would differ.
    model_config = ConfigDict(str_strip_whitespace=False)

    source_topic: str
    source_partition: int | None = None
    source_offset: int | None = None
    key: str | None = None
    service: str
    reason: Annotated[str, Field(max_length=10_100)]
    payload: str
    """The original record value: as text, base64-encoded when it is not UTF-8 or too large as
    text, or left out (`omitted`) when it fits neither way."""
    payload_encoding: Literal["utf-8", "base64", "omitted"] = "utf-8"
    parked_at: Timestamp
