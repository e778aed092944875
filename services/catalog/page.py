"""The HTML page of the AsyncAPI catalog, rendered from the document itself.

Self-contained (inline CSS, no scripts or fonts from elsewhere), so it can be opened from the
checkout or served as a static file. It reads only the AsyncAPI document: the topic table, each
topic's messages with their fields, and an index by event type all come from what an AsyncAPI
tool would see. Descriptions are CommonMark, as AsyncAPI specifies, rendered without raw HTML.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markdown_it import MarkdownIt
from markupsafe import Markup

_TEMPLATES: Final = Path(__file__).resolve().parent / "templates"
_MARKDOWN: Final = MarkdownIt("commonmark", {"html": False})
_MAX_DEPTH: Final = 6
"""How deep nested objects are unfolded into field rows (the deepest model needs 4)."""


@dataclass(frozen=True)
class Field:
    """One row of a message's field table."""

    path: str
    type: str
    required: bool
    description: str
    constraints: str


@dataclass(frozen=True)
class MessageView:
    message_id: str
    anchor: str
    title: str
    summary: str
    description: str
    content_type: str
    key: str
    fields: list[Field]


@dataclass(frozen=True)
class TopicView:
    channel_id: str
    address: str
    kind: str
    summary: str
    description: str
    partitions: int | None
    key: str
    retention: str
    written_by: list[str]
    read_by: list[str]
    messages: list[MessageView]


@dataclass(frozen=True)
class EventIndexEntry:
    event_type: str
    summary: str
    topics: list[tuple[str, str]]
    """(address, anchor of the message in that topic's section)."""


def resolve(document: dict[str, Any], node: Any) -> Any:
    """Follow local `$ref`s (`#/components/...`) until a value that is not a reference."""
    seen: set[str] = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            raise ValueError(f"cannot resolve {ref!r}")
        seen.add(ref)
        target: Any = document
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def _ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[1] if isinstance(ref, str) else None


def _alternatives(schema: dict[str, Any]) -> list[dict[str, Any]] | None:
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            found: list[dict[str, Any]] = schema[keyword]
            return found
    return None


def _non_null(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in _alternatives(schema) or [schema] if s.get("type") != "null"]


class _Schemas:
    """Describes the document's schemas in words: type labels, constraints, nested fields."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def type_label(self, schema: dict[str, Any]) -> str:
        name = _ref_name(schema)
        if name is not None:
            target = resolve(self.document, schema)
            return name if "properties" in target else self.type_label(target)
        alternatives = _alternatives(schema)
        if alternatives is not None:
            return " or ".join(self.type_label(s) for s in alternatives)
        kind = schema.get("type")
        if isinstance(kind, list):
            return " or ".join(kind)
        if kind == "array":
            items = schema.get("items")
            return f"array of {self.type_label(items)}" if isinstance(items, dict) else "array"
        if kind == "object" and isinstance(schema.get("additionalProperties"), dict):
            return f"map of {self.type_label(schema['additionalProperties'])}"
        label = str(kind) if kind else "any"
        if "format" in schema:
            label += f" ({schema['format']})"
        return label

    def constraints(self, schema: dict[str, Any]) -> str:
        parts: list[str] = []
        for alternative in _non_null(schema):
            target = resolve(self.document, alternative)
            if "const" in target:
                parts.append(f"always `{target['const']}`")
            if "enum" in target:
                parts.append("one of " + ", ".join(f"`{v}`" for v in target["enum"]))
            if "pattern" in target:
                parts.append(f"pattern `{target['pattern']}`")
            if "minLength" in target or "maxLength" in target:
                low, high = target.get("minLength", 0), target.get("maxLength")
                parts.append(
                    f"{low} to {high} characters" if high is not None else f"at least {low} chars"
                )
            for keyword, word in (("minimum", "at least"), ("maximum", "at most")):
                if keyword in target:
                    parts.append(f"{word} {target[keyword]}")
            if "maxItems" in target:
                parts.append(f"at most {target['maxItems']} items")
        default = schema.get("default")
        if default not in (None, {}, []) and "const" not in schema:
            parts.append(f"default `{json.dumps(default)}`")
        return "; ".join(parts)

    def _object_within(self, schema: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """The object a field holds, to unfold: (path suffix, its schema), or None."""
        for alternative in _non_null(schema):
            target = resolve(self.document, alternative)
            if "properties" in target:
                return "", target
            if target.get("type") == "array" and isinstance(target.get("items"), dict):
                inner = self._object_within(target["items"])
                if inner is not None:
                    return "[]" + inner[0], inner[1]
            values = target.get("additionalProperties")
            if target.get("type") == "object" and isinstance(values, dict):
                inner = self._object_within(values)
                if inner is not None:
                    keys = target.get("propertyNames", {}).get("enum")
                    label = "{" + "|".join(keys) + "}" if keys else "{key}"
                    return f".{label}" + inner[0], inner[1]
        return None

    def fields(self, schema: dict[str, Any], prefix: str = "", depth: int = 0) -> list[Field]:
        target = resolve(self.document, schema)
        required = set(target.get("required", ()))
        rows: list[Field] = []
        for name, sub in target.get("properties", {}).items():
            path = prefix + name
            description = sub.get("description") or ""
            inner = self._object_within(sub)
            if not description and inner is not None:
                description = inner[1].get("description", "")
            rows.append(
                Field(
                    path=path,
                    type=self.type_label(sub),
                    required=name in required,
                    description=description,
                    constraints=self.constraints(sub),
                )
            )
            if inner is not None and depth < _MAX_DEPTH:
                rows.extend(self.fields(inner[1], f"{path}{inner[0]}.", depth + 1))
        return rows


def duration(ms: int) -> str:
    """`2592000000` -> `30 days`: a retention in words."""
    day, hour = 24 * 60 * 60 * 1000, 60 * 60 * 1000
    for unit, word in ((day, "day"), (hour, "hour")):
        if ms % unit == 0:
            count = ms // unit
            return f"{count} {word}" + ("s" if count != 1 else "")
    return f"{ms} ms"


def _retention(configuration: dict[str, Any]) -> str:
    policies = configuration.get("cleanup.policy", [])
    retention_ms = configuration.get("retention.ms")
    if "compact" in policies:
        return "compacted: latest record per key"
    if isinstance(retention_ms, int):
        return duration(retention_ms)
    return "broker default"


def _key_text(document: dict[str, Any], message: dict[str, Any]) -> str:
    key = message.get("bindings", {}).get("kafka", {}).get("key")
    if key is None:
        return ""
    schema = resolve(document, key)
    return str(schema.get("title", ""))


def topic_views(document: dict[str, Any]) -> list[TopicView]:
    """Every channel, with who writes and reads it (from the operations) and its messages."""
    schemas = _Schemas(document)
    views = []
    for channel_id, channel in document["channels"].items():
        ref = f"#/channels/{channel_id}"
        writers: list[str] = []
        readers: list[str] = []
        for operation in document.get("operations", {}).values():
            if operation["channel"]["$ref"] != ref:
                continue
            names = [tag["name"] for tag in operation.get("tags", [])]
            (writers if operation["action"] == "send" else readers).extend(names)
        messages = []
        for message_id, message_ref in channel.get("messages", {}).items():
            message = resolve(document, message_ref)
            payload = message.get("payload", {})
            messages.append(
                MessageView(
                    message_id=message_id,
                    anchor=f"{channel_id}--{message_id}",
                    title=message.get("title", message_id),
                    summary=message.get("summary", ""),
                    description=message.get("description", ""),
                    content_type=message.get("contentType", document.get("defaultContentType", "")),
                    key=_key_text(document, message),
                    fields=schemas.fields(payload),
                )
            )
        binding = channel.get("bindings", {}).get("kafka", {})
        tags = [tag["name"] for tag in channel.get("tags", [])]
        views.append(
            TopicView(
                channel_id=channel_id,
                address=channel.get("address", channel_id),
                kind=", ".join(tags),
                summary=channel.get("summary", ""),
                description=channel.get("description", ""),
                partitions=binding.get("partitions"),
                key=str(channel.get("x-key", messages[0].key if messages else "")),
                retention=_retention(binding.get("topicConfiguration", {})),
                written_by=writers,
                read_by=readers,
                messages=messages,
            )
        )
    return views


def event_index(topics: list[TopicView], document: dict[str, Any]) -> list[EventIndexEntry]:
    """Every event type (a message with `x-event-type`), sorted, with the topics carrying it."""
    entries: dict[str, EventIndexEntry] = {}
    for topic in topics:
        for view in topic.messages:
            message = document["components"]["messages"].get(view.message_id, {})
            event_type = message.get("x-event-type")
            if event_type is None:
                continue
            entry = entries.setdefault(event_type, EventIndexEntry(event_type, view.summary, []))
            entry.topics.append((topic.address, view.anchor))
    return [entries[name] for name in sorted(entries)]


def _markdown(text: str) -> Markup:
    return Markup(_MARKDOWN.render(text))


def _markdown_inline(text: str) -> Markup:
    return Markup(_MARKDOWN.renderInline(text))


def render_page(document: dict[str, Any]) -> str:
    environment = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["markdown"] = _markdown
    environment.filters["markdown_inline"] = _markdown_inline
    topics = topic_views(document)
    return environment.get_template("asyncapi.html.j2").render(
        info=document["info"],
        servers=document.get("servers", {}),
        topics=topics,
        events=event_index(topics, document),
    )
