"""The documents Nudge publishes for its users, generated from the models.

JSON Schema per topic (for analysts and consumers in other languages) and the OpenAPI
documents of the HTTP APIs (for shops). They are committed; a test fails when a model change
would alter them without the files being regenerated, so every schema change shows up as a diff
in review.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr, TypeAdapter

from shared.events import (
    FEEDBACK_EVENT,
    MESSAGE_EVENT,
    SEGMENT_EVENT,
    SHOP_EVENT,
    TRIGGER_EVENT,
    DeadLetter,
)
from shared.events.conversions import CONVERSION_EVENT
from shared.events.profiles import PROFILE_EVENT
from shared.topics import (
    CONVERSIONS,
    CUSTOMER_PROFILES,
    DEAD_LETTER_TOPIC_NAMES,
    FEEDBACK_EVENTS,
    MESSAGES_STATUS,
    SEGMENTS_CHANGES,
    SHOP_EVENTS,
    TRIGGERS_FIRED,
    TopicSpec,
    topic_by_name,
)

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_DIR = ROOT / "shared" / "schemas"
OPENAPI_PATH = ROOT / "services" / "ingest" / "openapi.json"
FEEDBACK_OPENAPI_PATH = ROOT / "services" / "feedback" / "openapi.json"
SEGMENTER_OPENAPI_PATH = ROOT / "services" / "segmenter" / "api" / "openapi.json"


def _render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def topic_schema(spec: TopicSpec, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://nudge.dev/schemas/{spec.name}.json",
        "title": spec.name,
        "description": f"{spec.description} Key: {spec.key}.",
        **schema,
    }


def topic_models() -> list[tuple[TopicSpec, TypeAdapter[Any]]]:
    """Each JSON topic with the type of its record values (a union of event types, or one model).

    The worker command topics are missing: their records are bytes, not JSON.
    """
    dead_letter: TypeAdapter[Any] = TypeAdapter(DeadLetter)
    return [
        (SHOP_EVENTS, SHOP_EVENT),
        (TRIGGERS_FIRED, TRIGGER_EVENT),
        (SEGMENTS_CHANGES, SEGMENT_EVENT),
        (CUSTOMER_PROFILES, PROFILE_EVENT),
        (FEEDBACK_EVENTS, FEEDBACK_EVENT),
        (MESSAGES_STATUS, MESSAGE_EVENT),
        (CONVERSIONS, CONVERSION_EVENT),
        # Every dead-letter topic holds the same record: one file each, named after the topic.
        *((topic_by_name(name), dead_letter) for name in sorted(DEAD_LETTER_TOPIC_NAMES)),
    ]


def write_or_check(
    files: dict[Path, str], *, check: bool, echo: Callable[[str], None] = print
) -> list[Path]:
    """Write generated files, or with `check` only compare them with what is committed;
    returns the stale ones (a committed file that differs from a fresh generation)."""
    stale = []
    for path, text in files.items():
        if check:
            if not path.is_file() or path.read_text() != text:
                stale.append(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            echo(f"wrote {path}")
    return stale


def published_documents() -> dict[Path, str]:
    from services.feedback.app import create_app as create_feedback_app
    from services.ingest.app import create_app
    from services.segmenter.api.app import create_app as create_segmenter_app
    from shared.settings import SecretKeySettings

    docs = {
        SCHEMA_DIR / f"{spec.name}.json": _render(topic_schema(spec, adapter.json_schema()))
        for spec, adapter in topic_models()
    }
    app = create_app(secret_key=SecretKeySettings(secret_key=SecretStr("x" * 32)))
    docs[OPENAPI_PATH] = _render(app.openapi())
    docs[FEEDBACK_OPENAPI_PATH] = _render(create_feedback_app(None).openapi())
    docs[SEGMENTER_OPENAPI_PATH] = _render(create_segmenter_app(None).openapi())
    return docs
